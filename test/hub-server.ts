// A local stand-in for the Hugging Face Hub: exactly the endpoints that @huggingface/hub calls to create a model
// repo and make one commit (docs/design/formats.md §6), on 127.0.0.1 with a random port, storing files in memory. Anything
// else is recorded in `unknown` and answered 404, so a test can fail on requests it did not expect.
//
// Like the real Hub: write calls need `Authorization: Bearer hf_...` with a token this server issued; preupload
// sends binary files, LFS-tracked extensions and large files through LFS (batch API + PUT to a presigned-style
// URL without auth, optionally multipart with ETags); the batch answers transfer "basic" (no xet); a commit is an
// NDJSON body applied atomically, and LFS pointers are accepted only for objects whose bytes arrived and hash to
// their oid.
import * as http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface StoredRepo {
  id: string;
  private: boolean;
  files: Map<string, Buffer>;
  /** How each path of the last commit travelled. */
  modes: Map<string, 'regular' | 'lfs'>;
  commits: { oid: string; title: string; description?: string; paths: string[] }[];
}

export interface HubServerOptions {
  /** The user's name; repos can be created in this namespace (and in `orgs`). */
  user?: string;
  orgs?: string[];
  /** Files above this many bytes go through LFS even when they are text (the Hub uses 10 MB). */
  lfsThreshold?: number;
  /** When set, LFS objects larger than this are uploaded in parts of this size (multipart). */
  multipartChunkSize?: number;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
}

export interface LocalHub {
  url: string;
  /** A write token this server accepts. */
  token: string;
  repos: Map<string, StoredRepo>;
  /** Every request as "METHOD /path". */
  requests: string[];
  /** Requests no endpoint handled. */
  unknown: string[];
  /** Errors the server answered with (status + message), for diagnosis. */
  errors: string[];
  close(): Promise<void>;
}

// Patterns of the Hub's default .gitattributes that concern our files.
const LFS_PATTERNS = [/\.safetensors$/, /\.bin$/, /\.pt$/, /\.pth$/, /\.ckpt$/, /\.npy$/, /\.zip$/, /tfevents/];

class HttpError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startHubServer(opts: HubServerOptions = {}): Promise<LocalHub> {
  const user = opts.user ?? 'reclin-test';
  const namespaces = new Set([user, ...(opts.orgs ?? [])]);
  const lfsThreshold = opts.lfsThreshold ?? 10 * 1024 * 1024;
  const maxBody = opts.maxBodyBytes ?? 64 * 1024 * 1024;
  const token = `hf_test_${randomBytes(12).toString('hex')}`;
  const repos = new Map<string, StoredRepo>();
  const lfsObjects = new Map<string, Buffer>();
  const multipart = new Map<string, Map<number, { etag: string; data: Buffer }>>();
  const requests: string[] = [];
  const unknown: string[] = [];
  const errors: string[] = [];
  let base = '';

  const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBody) {
          reject(new HttpError(413, `body over ${maxBody} bytes`));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const authorized = (req: http.IncomingMessage) => req.headers.authorization === `Bearer ${token}`;
  const requireAuth = (req: http.IncomingMessage) => {
    if (!authorized(req)) throw new HttpError(401, 'Invalid credentials in Authorization header');
  };
  const json = (body: Buffer): any => {
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      throw new HttpError(400, 'body is not JSON');
    }
  };
  const repoFor = (req: http.IncomingMessage, id: string): StoredRepo => {
    const repo = repos.get(id);
    // The Hub answers 404 both for missing repos and for private ones the caller may not see.
    if (!repo || (repo.private && !authorized(req))) throw new HttpError(404, 'Repository not found');
    return repo;
  };
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  type Reply = { status?: number; body?: unknown; headers?: Record<string, string> };
  type Handler = (req: http.IncomingMessage, m: RegExpExecArray, body: Buffer) => Reply | Promise<Reply>;
  const routes: [string, RegExp, Handler][] = [
    [
      'GET',
      /^\/api\/whoami-v2$/,
      (req) => {
        requireAuth(req);
        return {
          body: {
            type: 'user', id: 'u1', name: user, fullname: 'reclin test', email: 'test@example.invalid', emailVerified: true,
            isPro: false, orgs: [...namespaces].filter((n) => n !== user).map((name) => ({ name })), canPay: false,
            avatarUrl: '', periodEnd: null, billingMode: 'prepaid',
            auth: { type: 'access_token', accessToken: { displayName: 'test', role: 'write', createdAt: '2026-01-01T00:00:00.000Z' } },
          },
        };
      },
    ],
    [
      'POST',
      /^\/api\/repos\/create$/,
      (req, _m, body) => {
        requireAuth(req);
        const b = json(body);
        if (b.type !== 'model') throw new HttpError(400, `only model repos are served here, got type ${b.type}`);
        if (typeof b.name !== 'string' || typeof b.organization !== 'string') throw new HttpError(400, 'name and organization are required');
        if (!namespaces.has(b.organization)) throw new HttpError(403, `You don't have the rights to create a model under the namespace "${b.organization}"`);
        const id = `${b.organization}/${b.name}`;
        if (repos.has(id)) throw new HttpError(409, 'You already created this model repo');
        if (b.visibility !== undefined && !['public', 'private'].includes(b.visibility)) throw new HttpError(400, `bad visibility ${b.visibility}`);
        repos.set(id, { id, private: b.visibility === 'private', files: new Map(), modes: new Map(), commits: [] });
        return { body: { url: `${base}/${id}`, name: id, id: randomBytes(12).toString('hex') } };
      },
    ],
    [
      'GET',
      /^\/api\/models\/([^/]+\/[^/?]+)(?:\?.*)?$/,
      (req, m) => {
        const repo = repoFor(req, m[1]);
        return { body: { id: repo.id, private: repo.private, likes: 0 } };
      },
    ],
    [
      'POST',
      /^\/api\/models\/([^/]+\/[^/]+)\/preupload\/([^/?]+)$/,
      (req, m, body) => {
        requireAuth(req);
        repoFor(req, m[1]);
        if (decodeURIComponent(m[2]) !== 'main') throw new HttpError(404, `no branch ${m[2]}`);
        const b = json(body);
        if (!Array.isArray(b.files) || b.files.length > 100) throw new HttpError(400, 'files: expected an array of at most 100');
        return {
          body: {
            files: b.files.map((f: { path: string; size: number; sample: string }) => {
              const sample = Buffer.from(f.sample, 'base64');
              const lfs = f.size > lfsThreshold || sample.includes(0) || LFS_PATTERNS.some((p) => p.test(f.path));
              return { path: f.path, uploadMode: lfs ? 'lfs' : 'regular', shouldIgnore: false };
            }),
          },
        };
      },
    ],
    [
      'POST',
      /^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/,
      (req, m, body) => {
        requireAuth(req);
        repoFor(req, m[1]);
        if (req.headers['content-type'] !== 'application/vnd.git-lfs+json') throw new HttpError(415, 'expected application/vnd.git-lfs+json');
        const b = json(body);
        if (b.operation !== 'upload' || b.hash_algo !== 'sha_256' || !Array.isArray(b.objects)) throw new HttpError(400, 'bad batch request');
        const objects = b.objects.map((o: { oid: string; size: number }) => {
          if (!/^[0-9a-f]{64}$/.test(o.oid)) throw new HttpError(400, `bad oid ${o.oid}`);
          if (lfsObjects.has(o.oid)) return { oid: o.oid, size: o.size }; // already uploaded
          const href = `${base}/lfs-upload/${o.oid}`;
          const cs = opts.multipartChunkSize;
          if (cs && o.size > cs) {
            const header: Record<string, string> = { chunk_size: String(cs) };
            for (let p = 1; p <= Math.ceil(o.size / cs); p++) header[String(p).padStart(5, '0')] = `${href}/part/${p}`;
            return { oid: o.oid, size: o.size, actions: { upload: { href: `${href}/complete`, header } } };
          }
          return { oid: o.oid, size: o.size, actions: { upload: { href } } };
        });
        return { body: { transfer: 'basic', objects }, headers: { 'Content-Type': 'application/vnd.git-lfs+json' } };
      },
    ],
    [
      'PUT',
      /^\/lfs-upload\/([0-9a-f]{64})$/,
      (_req, m, body) => {
        if (sha256(body) !== m[1]) throw new HttpError(400, `content does not hash to ${m[1]}`);
        lfsObjects.set(m[1], body);
        return {};
      },
    ],
    [
      'PUT',
      /^\/lfs-upload\/([0-9a-f]{64})\/part\/(\d+)$/,
      (_req, m, body) => {
        const parts = multipart.get(m[1]) ?? new Map();
        multipart.set(m[1], parts);
        const etag = `"${createHash('md5').update(body).digest('hex')}"`;
        parts.set(Number(m[2]), { etag, data: body });
        return { headers: { ETag: etag } };
      },
    ],
    [
      'POST',
      /^\/lfs-upload\/([0-9a-f]{64})\/complete$/,
      (_req, m, body) => {
        const b = json(body);
        const parts = multipart.get(m[1]);
        if (!parts || b.oid !== m[1] || !Array.isArray(b.parts) || b.parts.length !== parts.size) throw new HttpError(400, 'incomplete multipart upload');
        const ordered = [...b.parts].sort((x, y) => x.partNumber - y.partNumber);
        const data = Buffer.concat(
          ordered.map((p: { partNumber: number; etag: string }) => {
            const got = parts.get(p.partNumber);
            if (!got || got.etag !== p.etag) throw new HttpError(400, `part ${p.partNumber}: bad etag`);
            return got.data;
          }),
        );
        if (sha256(data) !== m[1]) throw new HttpError(400, `parts do not hash to ${m[1]}`);
        lfsObjects.set(m[1], data);
        multipart.delete(m[1]);
        return {};
      },
    ],
    [
      'POST',
      /^\/api\/models\/([^/]+\/[^/]+)\/commit\/([^/?]+)$/,
      (req, m, body) => {
        requireAuth(req);
        const repo = repoFor(req, m[1]);
        if (decodeURIComponent(m[2]) !== 'main') throw new HttpError(404, `no branch ${m[2]}`);
        if (req.headers['content-type'] !== 'application/x-ndjson') throw new HttpError(415, 'expected application/x-ndjson');
        const lines = body.toString('utf8').split('\n').filter((l) => l.length > 0).map((l) => json(Buffer.from(l)));
        const header = lines[0];
        if (header?.key !== 'header' || typeof header.value?.summary !== 'string' || !header.value.summary) throw new HttpError(400, 'first line must be the header with a summary');
        const staged = new Map<string, { data: Buffer | null; mode: 'regular' | 'lfs' }>();
        for (const line of lines.slice(1)) {
          const v = line.value ?? {};
          if (typeof v.path !== 'string' || !v.path || v.path.startsWith('/') || v.path.split('/').includes('..')) throw new HttpError(400, `bad path ${v.path}`);
          if (staged.has(v.path)) throw new HttpError(400, `${v.path} appears twice in one commit`);
          if (line.key === 'file') {
            if (v.encoding !== 'base64') throw new HttpError(400, `${v.path}: encoding must be base64`);
            staged.set(v.path, { data: Buffer.from(v.content, 'base64'), mode: 'regular' });
          } else if (line.key === 'lfsFile') {
            const data = lfsObjects.get(v.oid);
            if (v.algo !== 'sha256' || !data) throw new HttpError(400, `${v.path}: LFS object ${v.oid} was never uploaded`);
            if (data.length !== v.size) throw new HttpError(400, `${v.path}: size ${v.size} does not match the uploaded ${data.length}`);
            staged.set(v.path, { data, mode: 'lfs' });
          } else if (line.key === 'deletedFile') {
            staged.set(v.path, { data: null, mode: 'regular' });
          } else {
            throw new HttpError(400, `unknown commit line key ${line.key}`);
          }
        }
        const oid = randomBytes(20).toString('hex');
        repo.modes.clear();
        for (const [p, s] of staged) {
          if (s.data) {
            repo.files.set(p, s.data);
            repo.modes.set(p, s.mode);
          } else repo.files.delete(p);
        }
        repo.commits.push({ oid, title: header.value.summary, description: header.value.description, paths: [...staged.keys()] });
        return { body: { commitOid: oid, commitUrl: `${base}/${repo.id}/commit/${oid}` } };
      },
    ],
  ];

  const server = http.createServer(async (req, res) => {
    const line = `${req.method} ${req.url}`;
    requests.push(line);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'X-Request-Id': `req-${requests.length}`, ...headers });
      res.end(text);
    };
    try {
      const route = routes.find(([method, re]) => method === req.method && re.test(req.url ?? ''));
      if (!route) {
        unknown.push(line);
        req.resume();
        send(404, { error: `local hub: no endpoint for ${line}` });
        return;
      }
      const body = await readBody(req);
      const reply = await route[2](req, route[1].exec(req.url ?? '')!, body);
      send(reply.status ?? 200, reply.body ?? {}, reply.headers);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      errors.push(`${status} ${line}: ${(e as Error).message}`);
      if (!res.headersSent) send(status, { error: (e as Error).message });
      else res.end();
    }
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    token,
    repos,
    requests,
    unknown,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
