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

/** Plain words for the network error codes seen when a host cannot be reached. */
const NETWORK_WHY: Record<string, string> = {
  ECONNREFUSED: 'the connection was refused (nothing listens at that address and port)',
  ENOTFOUND: 'the host name does not resolve (DNS)',
  EAI_AGAIN: 'the host name could not be resolved right now (DNS)',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the TLS certificate was not accepted (self-signed)',
  SELF_SIGNED_CERT_IN_CHAIN: 'the TLS certificate was not accepted (self-signed in chain)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the TLS certificate was not accepted (unverifiable issuer)',
  CERT_HAS_EXPIRED: 'the TLS certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the TLS certificate does not name this host',
};

/**
 * fetch() reports an unreachable host as "fetch failed" and hides the reason in `cause` (possibly nested, or an
 * AggregateError over the addresses tried). Returns "<why> (<system message>)", or null for other errors.
 */
export function networkFailure(e: unknown): string | null {
  const seen = new Set<unknown>();
  let cur: unknown = e;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const err = cur as { code?: string; message?: string; cause?: unknown; errors?: unknown[] };
    const hit = typeof err.code === 'string' ? err : (err.errors?.find((x) => typeof (x as { code?: unknown })?.code === 'string') as typeof err | undefined);
    if (hit?.code) return `${NETWORK_WHY[hit.code] ?? hit.code} (${hit.message ?? hit.code})`;
    cur = err.cause;
  }
  return null;
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
  // What the upload was doing, for an error that says where it stopped.
  let doing = 'checking whether the repo exists';
  try {
    const exists = await hub.repoExists({ repo, hubUrl, accessToken: token });
    if (!exists) {
      doing = 'creating the repo';
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
      if (step.value.event === 'phase') {
        doing = `the upload's "${step.value.phase}" phase`;
        opts.onPhase?.(step.value.phase);
      }
      else if (step.value.state === 'error') throw new UploadError(`upload of ${step.value.path} failed`);
      step = await it.next();
    }
    if (step.value) result.commit = { oid: step.value.commit.oid, url: step.value.commit.url };
    return result;
  } catch (e) {
    if (e instanceof UploadError) throw e;
    const net = networkFailure(e);
    if (net) {
      throw new UploadError(`upload to ${hubUrl} (${repo}) failed: could not reach ${new URL(hubUrl).host} while ${doing}: ${scrub(net)}. Check the network, and --hub-url / HF_ENDPOINT.`);
    }
    const status = (e as { statusCode?: number }).statusCode;
    const cause = scrub((e as Error).message ?? String(e));
    throw new UploadError(`upload to ${hubUrl} (${repo}) failed${status ? ` with HTTP ${status}` : ''}: ${cause}`);
  }
}
