// Uploads an experiment directory to the Hugging Face Hub with the official client (@huggingface/hub):
// creates the repo when missing, then sends every file of the plan (src/hub/manifest.ts) in ONE commit.
// The token only ever travels in the Authorization header of the client's requests: it is never written to a
// file, printed, or put in an error message (messages are scrubbed of it in case a server echoes it).
import { pathToFileURL } from 'node:url';
import { planUpload } from './manifest';
import { checkRepoId } from './repo-id';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

export interface UploadOptions {
  /** "namespace/name" of a model repo. */
  repo: string;
  /** Access token (hf_...); defaults to the HF_TOKEN environment variable. Not needed for a dry run. */
  token?: string;
  /** Create the repo as private (only applies when the repo does not exist yet). */
  private?: boolean;
  /** List what would be uploaded; contact no server. */
  dryRun?: boolean;
  /** Hub endpoint; defaults to HF_ENDPOINT, then https://huggingface.co. */
  hubUrl?: string;
  /** Commit title; defaults to "Upload experiment <name>". */
  commitTitle?: string;
  /** Called with the client's phases ("preuploading", "uploadingLargeFiles", "committing"). */
  onPhase?: (phase: string) => void;
}

export interface UploadResult {
  repo: string;
  hubUrl: string;
  dryRun: boolean;
  /** The checkpoint step whose model went to the repo root. */
  checkpointStep: number;
  files: { path: string; size: number }[];
  totalBytes: number;
  /** True when this call created the repo (false for a dry run or an existing repo). */
  created: boolean;
  commit?: { oid: string; url: string };
}

export class UploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UploadError';
  }
}

function resolveHubUrl(arg: string | undefined): string {
  const raw = arg ?? process.env.HF_ENDPOINT ?? DEFAULT_HUB_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UploadError(`hubUrl: expected an http(s) URL such as ${DEFAULT_HUB_URL}, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UploadError(`hubUrl: expected an http(s) URL such as ${DEFAULT_HUB_URL}, got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/+$/, '');
}

function resolveToken(arg: string | undefined): string {
  const token = arg ?? process.env.HF_TOKEN;
  if (!token) throw new UploadError('token: no Hugging Face access token; pass --hf-token or set HF_TOKEN (a write token, hf_...)');
  // The client itself refuses other tokens; say so without echoing the value.
  if (!token.startsWith('hf_')) throw new UploadError("token: a Hugging Face access token starts with 'hf_'; the one given does not (its value is not shown)");
  return token;
}

export async function uploadExperiment(dir: string, opts: UploadOptions): Promise<UploadResult> {
  const repo = checkRepoId(opts?.repo, 'repo');
  const hubUrl = resolveHubUrl(opts.hubUrl);
  const token = opts.dryRun ? undefined : resolveToken(opts.token);
  const plan = planUpload(dir);
  const result: UploadResult = {
    repo,
    hubUrl,
    dryRun: !!opts.dryRun,
    checkpointStep: plan.checkpoint.step,
    files: plan.files.map((f) => ({ path: f.path, size: f.size })),
    totalBytes: plan.totalBytes,
    created: false,
  };
  if (opts.dryRun) return result;

  const scrub = (msg: string) => msg.split(token!).join('<token>');
  // Loaded here so commands that never upload don't pay for the client.
  const hub = await import('@huggingface/hub');
  try {
    const exists = await hub.repoExists({ repo, hubUrl, accessToken: token });
    if (!exists) {
      try {
        await hub.createRepo({ repo, hubUrl, accessToken: token!, ...(opts.private ? { visibility: 'private' as const } : {}) });
        result.created = true;
      } catch (e) {
        // 409: created meanwhile (or visible only now with the token); the commit below settles it.
        if ((e as { statusCode?: number }).statusCode !== 409) throw e;
      }
    }
    const title = opts.commitTitle ?? `Upload experiment ${plan.name}`;
    const description =
      `Best checkpoint: step ${plan.checkpoint.step}. ${plan.files.length} files, ${plan.totalBytes} bytes, ` +
      'uploaded with reclin upload.';
    const it = hub.uploadFilesWithProgress({
      repo,
      hubUrl,
      accessToken: token!,
      commitTitle: title,
      commitDescription: description,
      files: plan.files.map((f) => ({ path: f.path, content: pathToFileURL(f.localPath) })),
    });
    let step = await it.next();
    while (!step.done) {
      if (step.value.event === 'phase') opts.onPhase?.(step.value.phase);
      else if (step.value.state === 'error') throw new UploadError(`upload of ${step.value.path} failed`);
      step = await it.next();
    }
    if (step.value) result.commit = { oid: step.value.commit.oid, url: step.value.commit.url };
    return result;
  } catch (e) {
    if (e instanceof UploadError) throw e;
    const status = (e as { statusCode?: number }).statusCode;
    const cause = scrub((e as Error).message ?? String(e));
    throw new UploadError(`upload to ${hubUrl} (${repo}) failed${status ? ` with HTTP ${status}` : ''}: ${cause}`);
  }
}
