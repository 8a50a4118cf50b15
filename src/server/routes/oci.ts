import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authorize, OciAction } from '../../contracts/access-scope.js';
import { annotations } from '../../contracts/annotations.js';
import { digestForm, isDigest, type Digest } from '../../core/digest.js';
import { AppError } from '../../core/errors.js';
import { mediaTypes } from '../../registry/media-types.js';
import { OciError } from '../../registry/oci-error.js';
import { isIndexManifest, referencesOf } from '../../registry/oci-types.js';
import { isRepositoryName } from '../../contracts/identifiers.js';
import { isTag } from '../../registry/reference.js';
import type { Registry } from '../../registry/registry.js';
import { UploadSessions } from '../../registry/upload-sessions.js';
import { MethodNotAllowedError } from '../http-error.js';
import { sendFileRange } from '../send-file-range.js';
import type { RequestContext, RouteSet } from '../router.js';

export interface OciRoutesDeps {
  registry: Registry;
  /** Everyone may do everything when omitted (loopback, tests). */
  authorize?: Authorize;
  /** Largest manifest accepted, in bytes (4 MiB, as in distribution). */
  maxManifestBytes?: number;
  /** How long an upload session lives (default 24 h). */
  uploadSessionTtlMs?: number;
  /** Blob DELETE (distribution-spec "Deleting Blobs"): on by default; off answers 405. */
  deleteBlobs?: boolean;
}

/**
 * The OCI distribution API over the registry: pull (manifests, blobs with Range, tags/list,
 * referrers) and push (monolithic and chunked uploads, cross-repository mount, manifests).
 * Every failure under /v2/ answers the spec's shape `{errors:[{code,message,detail}]}`, and one
 * catch-all route parses the path itself so a bad name or reference is NAME_INVALID, not a 404.
 */
export function ociRoutes(deps: OciRoutesDeps): RouteSet {
  const { registry } = deps;
  const uploads = new UploadSessions(registry.layout, deps.uploadSessionTtlMs === undefined ? {} : { ttlMs: deps.uploadSessionTtlMs });
  const authorize: Authorize = deps.authorize ?? (() => undefined);
  const maxManifest = deps.maxManifestBytes ?? 4 * 1024 * 1024;
  /** Blobs uploaded or mounted into a repository that no manifest references yet. */
  const linked = new Map<string, Set<Digest>>();
  const link = (repository: string, digest: Digest): void => {
    const set = linked.get(repository) ?? new Set<Digest>();
    set.add(digest);
    linked.set(repository, set);
  };

  /**
   * Blobs are content-addressed across the store but visible per repository, as in distribution.
   * The manifest that makes a blob visible is leased again, so gc keeps a long pull's remaining
   * blobs for as long as the pull keeps asking.
   */
  const repositoryHasBlob = async (repository: string, digest: Digest): Promise<boolean> => {
    if (linked.get(repository)?.has(digest)) return (await registry.layout.blobSize(digest)) !== undefined;
    const index = await registry.layout.readIndex();
    const seen = new Set<Digest>();
    const walk = async (d: Digest): Promise<boolean> => {
      if (d === digest) return true;
      if (seen.has(d)) return false;
      seen.add(d);
      const m = await registry.manifest(d).catch(() => undefined);
      if (!m) return false;
      if (isIndexManifest(m)) {
        for (const c of m.manifests) if (await walk(c.digest)) return true;
        return false;
      }
      return referencesOf(m).some((r) => r.digest === digest);
    };
    for (const d of index.manifests) {
      if (d.annotations?.[annotations.repository] !== repository) continue;
      if (await walk(d.digest)) {
        await registry.lease(d.digest);
        return (await registry.layout.blobSize(digest)) !== undefined;
      }
    }
    return false;
  };

  /** Whether a manifest of the repository (not a mere upload link) references the blob. */
  const referencedInRepository = async (repository: string, digest: Digest): Promise<boolean> => {
    const index = await registry.layout.readIndex();
    for (const d of index.manifests) {
      if (d.annotations?.[annotations.repository] !== repository) continue;
      const m = await registry.manifest(d.digest).catch(() => undefined);
      if (!m) continue;
      const children = isIndexManifest(m) ? m.manifests.map((c) => c.digest) : [];
      if (d.digest === digest || referencesOf(m).some((r) => r.digest === digest) || children.includes(digest)) return true;
      for (const c of children) {
        const cm = await registry.manifest(c).catch(() => undefined);
        if (cm && referencesOf(cm).some((r) => r.digest === digest)) return true;
      }
    }
    return false;
  };

  const handle = async (ctx: RequestContext): Promise<void> => {
    const { req, res, url, signal } = ctx;
    const method = req.method ?? 'GET';
    const rest = ctx.params['*'] ?? '';
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (rest === '') {
      await authorize({ repository: null, action: 'pull', req });
      return json(res, 200, {});
    }
    const route = parsePath(rest);
    if (!isRepositoryName(route.name)) throw new OciError('NAME_INVALID', `${JSON.stringify(route.name)} is not an OCI repository name`, { name: route.name });
    const name = route.name;
    const action = actionOf(method);
    await authorize({ repository: name, action, req });

    switch (route.kind) {
      case 'manifest': {
        const ref = route.arg;
        if (!isDigest(ref) && !isTag(ref)) {
          // distribution-spec "Pulling manifests": a manifest that is not found is 404, whatever the reference looks like.
          if (method === 'PUT') throw new OciError('MANIFEST_INVALID', `${JSON.stringify(ref)} is neither a tag nor a digest`, { reference: ref });
          throw new OciError('MANIFEST_UNKNOWN', `${name} has no manifest ${JSON.stringify(ref)} (not a valid tag or digest)`, { reference: ref });
        }
        if (method === 'GET' || method === 'HEAD') {
          const m = await registry.resolve(name, ref);
          await registry.lease(m.digest);
          const body = await registry.layout.readBlob(m.digest);
          res.writeHead(200, { 'content-type': m.mediaType, 'content-length': body.length, 'docker-content-digest': m.digest, etag: `"${m.digest}"` });
          return void res.end(method === 'HEAD' ? undefined : body);
        }
        if (method === 'PUT') {
          const bytes = await readBody(req, maxManifest);
          // A manifest may only reference what its repository holds (pushed, mounted or referenced by its
          // manifests): a blob's digest alone, learnt from another client's repository, must not make it ours.
          for (const digest of referencedDigests(bytes)) {
            if (!(await repositoryHasBlob(name, digest))) {
              throw new OciError('MANIFEST_BLOB_UNKNOWN', `${digest} is not in ${name}: push it, or mount it from a repository you may pull, first`, { digest, rule: 'blob-linked-to-repository' });
            }
          }
          // What OCI clients push keeps their tags only: v<n> versions are for images Prescient registers.
          const r = await registry.putManifest(name, ref, bytes, req.headers['content-type'], signal, { versioned: false });
          const headers: Record<string, string> = { location: `/v2/${name}/manifests/${r.digest}`, 'docker-content-digest': r.digest, 'content-length': '0' };
          if (r.subject) headers['oci-subject'] = r.subject;
          res.writeHead(201, headers);
          return void res.end();
        }
        if (method === 'DELETE') {
          await registry.deleteManifest(name, ref);
          res.writeHead(202, { 'content-length': '0' });
          return void res.end();
        }
        break;
      }
      case 'blob': {
        const digest = route.arg;
        if (!isDigest(digest)) throw new OciError('DIGEST_INVALID', `${JSON.stringify(digest)} is not ${digestForm}`, { digest });
        if (method === 'GET' || method === 'HEAD') {
          if (!(await repositoryHasBlob(name, digest))) throw new OciError('BLOB_UNKNOWN', `${name} has no blob ${digest}`, { digest });
          return sendBlob(req, res, registry.layout.blobPath(digest), digest, signal);
        }
        if (method === 'DELETE') {
          // distribution-spec "Deleting Blobs": 202 when deleted, 404 when unknown, 405 when deletion is off.
          if (deps.deleteBlobs === false) throw new MethodNotAllowedError(method, `/v2/${rest}`);
          if (!(await repositoryHasBlob(name, digest))) throw new OciError('BLOB_UNKNOWN', `${name} has no blob ${digest}`, { digest });
          if (await referencedInRepository(name, digest)) throw new OciError('DENIED', `${digest} is referenced by a manifest of ${name}; delete the manifest first`, { digest });
          // Unlinked from the repository at once; the bytes go at the next gc once nothing anywhere references them.
          linked.get(name)?.delete(digest);
          res.writeHead(202, { 'content-length': '0' });
          return void res.end();
        }
        break;
      }
      case 'uploads': {
        if (method === 'POST' && route.arg === '') {
          const mount = url.searchParams.get('mount');
          const from = url.searchParams.get('from');
          if (mount !== null) {
            if (!isDigest(mount)) throw new OciError('DIGEST_INVALID', `mount=${JSON.stringify(mount)} is not ${digestForm}`);
            if (from !== null && isRepositoryName(from)) {
              let allowed = true;
              await (async () => authorize({ repository: from, action: 'pull', req }))().catch(() => (allowed = false));
              if (allowed && (await repositoryHasBlob(from, mount))) {
                link(name, mount);
                res.writeHead(201, { location: `/v2/${name}/blobs/${mount}`, 'docker-content-digest': mount, 'content-length': '0' });
                return void res.end();
              }
            }
          }
          const digest = url.searchParams.get('digest');
          if (digest !== null) {
            if (!isDigest(digest)) throw new OciError('DIGEST_INVALID', `digest=${JSON.stringify(digest)} is not ${digestForm}`);
            const size = declaredLength(req);
            const w = await registry.layout.putBlobStream(req, { digest, ...(size !== undefined ? { size } : {}) }, signal);
            link(name, w.digest);
            res.writeHead(201, { location: `/v2/${name}/blobs/${w.digest}`, 'docker-content-digest': w.digest, 'content-length': '0' });
            return void res.end();
          }
          const id = await uploads.start(name);
          res.writeHead(202, { location: `/v2/${name}/blobs/uploads/${id}`, 'docker-upload-uuid': id, range: '0-0', 'content-length': '0' });
          return void res.end();
        }
        const id = route.arg;
        if (id === '') break;
        if (method === 'GET') {
          const offset = await uploads.offset(id, name);
          res.writeHead(204, { location: `/v2/${name}/blobs/uploads/${id}`, 'docker-upload-uuid': id, range: `0-${Math.max(0, offset - 1)}` });
          return void res.end();
        }
        if (method === 'PATCH') {
          const start = contentRangeStart(req);
          const offset = await uploads.append(id, name, req, start, signal);
          res.writeHead(202, { location: `/v2/${name}/blobs/uploads/${id}`, 'docker-upload-uuid': id, range: `0-${Math.max(0, offset - 1)}`, 'content-length': '0' });
          return void res.end();
        }
        if (method === 'PUT') {
          const digest = url.searchParams.get('digest');
          if (digest === null || !isDigest(digest)) {
            await uploads.offset(id, name);
            await uploads.cancel(id);
            throw new OciError('DIGEST_INVALID', `digest=${JSON.stringify(digest)} is not ${digestForm}`);
          }
          const w = await uploads.finish(id, name, digest, req, signal, contentRangeStart(req));
          link(name, w.digest);
          res.writeHead(201, { location: `/v2/${name}/blobs/${w.digest}`, 'docker-content-digest': w.digest, 'content-length': '0' });
          return void res.end();
        }
        if (method === 'DELETE') {
          await uploads.offset(id, name);
          await uploads.cancel(id);
          res.writeHead(204);
          return void res.end();
        }
        break;
      }
      case 'tags': {
        if (method !== 'GET' && method !== 'HEAD') break;
        const tags = [...(await registry.tags(name)).keys()].sort();
        if (tags.length === 0) throw new OciError('NAME_UNKNOWN', `repository ${name} is not known`, { name });
        const last = url.searchParams.get('last');
        const n = url.searchParams.get('n');
        let page = last ? tags.filter((t) => t > last) : tags;
        const headers: Record<string, string> = {};
        if (n !== null) {
          const count = Number(n);
          if (!/^\d{1,9}$/.test(n) || !Number.isInteger(count)) throw new OciError('PAGINATION_NUMBER_INVALID', `n: ${JSON.stringify(n)} is not a count`, { field: 'n' });
          if (page.length > count) {
            page = page.slice(0, count);
            headers['link'] = `</v2/${name}/tags/list?n=${count}&last=${encodeURIComponent(page.at(-1) ?? '')}>; rel="next"`;
          }
        }
        return json(res, 200, { name, tags: page }, headers);
      }
      case 'referrers': {
        if (method !== 'GET' && method !== 'HEAD') break;
        const digest = route.arg;
        if (!isDigest(digest)) throw new OciError('DIGEST_INVALID', `${JSON.stringify(digest)} is not ${digestForm}`);
        const artifactType = url.searchParams.get('artifactType') ?? undefined;
        const manifests = await registry.referrers(name, digest, artifactType);
        const headers: Record<string, string> = { 'content-type': mediaTypes.ociIndex };
        if (artifactType) headers['oci-filters-applied'] = 'artifactType';
        return json(res, 200, { schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests }, headers);
      }
    }
    throw new MethodNotAllowedError(method, `/v2/${rest}`);
  };

  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
  return [
    { method: methods, path: '/v2', scope: 'registry', registryAccess: () => ({ repository: null, action: 'pull' }), summary: 'the OCI distribution API base check', errorShape: 'oci', handler: (ctx) => handle({ ...ctx, params: { '*': '' } }) },
    { method: methods, path: '/v2/*', scope: 'registry', registryAccess: ({ params, method }) => registryAccessOf(params['*'] ?? '', method), summary: 'the OCI distribution API: manifests, blobs, uploads, tags, referrers', errorShape: 'oci', streamsBody: true, handler: handle },
  ];
}

/** The blobs and child manifests a manifest body names (nothing when it is not JSON: putManifest refuses it then). */
function referencedDigests(bytes: Buffer): Digest[] {
  let m: unknown;
  try {
    m = JSON.parse(bytes.toString('utf8'));
  } catch {
    return [];
  }
  if (!m || typeof m !== 'object') return [];
  const o = m as { config?: unknown; layers?: unknown; manifests?: unknown };
  const descriptors = [o.config, ...(Array.isArray(o.layers) ? o.layers : []), ...(Array.isArray(o.manifests) ? o.manifests : [])];
  const out = new Set<Digest>();
  for (const d of descriptors) {
    const digest = d && typeof d === 'object' ? (d as { digest?: unknown }).digest : undefined;
    if (typeof digest === 'string' && isDigest(digest)) out.add(digest);
  }
  return [...out];
}

function actionOf(method: string): OciAction {
  return method === 'GET' || method === 'HEAD' ? 'pull' : method === 'DELETE' ? 'delete' : 'push';
}

/**
 * The repository and action a `/v2/<rest>` request needs a token for (null: the base check);
 * undefined when the path names no repository, which the handler then answers NAME_INVALID.
 */
export function registryAccessOf(rest: string, method: string): { repository: string | null; action: OciAction } | undefined {
  if (rest === '') return { repository: null, action: 'pull' };
  let name: string;
  try {
    name = parsePath(rest).name;
  } catch {
    return undefined;
  }
  return isRepositoryName(name) ? { repository: name, action: actionOf(method) } : undefined;
}

type ParsedPath = { name: string; kind: 'manifest' | 'blob' | 'uploads' | 'tags' | 'referrers'; arg: string };

/** The name may contain slashes, so the last well-known segment decides (greedy name). */
function parsePath(rest: string): ParsedPath {
  const patterns: [RegExp, ParsedPath['kind']][] = [
    [/^(?<name>.+)\/blobs\/uploads\/?(?<arg>[^/]*)$/, 'uploads'],
    [/^(?<name>.+)\/blobs\/(?<arg>[^/]+)$/, 'blob'],
    [/^(?<name>.+)\/manifests\/(?<arg>[^/]+)$/, 'manifest'],
    [/^(?<name>.+)\/tags\/list(?<arg>)$/, 'tags'],
    [/^(?<name>.+)\/referrers\/(?<arg>[^/]+)$/, 'referrers'],
  ];
  for (const [re, kind] of patterns) {
    const m = re.exec(rest);
    if (m?.groups) return { name: m.groups['name']!, kind, arg: m.groups['arg'] ?? '' };
  }
  throw new OciError('NAME_INVALID', `/v2/${rest} names no repository endpoint`, { path: `/v2/${rest}` });
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > max) throw new AppError('PAYLOAD_TOO_LARGE', `manifest is ${declared} bytes, at most ${max} are accepted`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new AppError('PAYLOAD_TOO_LARGE', `manifest exceeds ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function declaredLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new OciError('SIZE_INVALID', `Content-Length ${JSON.stringify(v)} is not a size`);
  return n;
}

function contentRangeStart(req: IncomingMessage): number | undefined {
  const v = req.headers['content-range'];
  if (v === undefined) return undefined;
  const m = /^(?:bytes )?(\d+)-(\d+)$/.exec(v.trim());
  if (!m) throw new OciError('RANGE_INVALID', `Content-Range ${JSON.stringify(v)} is not <start>-<end>`);
  return Number(m[1]);
}

/** A blob's body (or the Range asked), from the file opened before any header is written: a blob gc removed in between is still BLOB_UNKNOWN. */
async function sendBlob(req: IncomingMessage, res: ServerResponse, path: string, digest: Digest, signal: AbortSignal): Promise<void> {
  const file = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new OciError('BLOB_UNKNOWN', `blob ${digest} is not stored`, { digest });
    throw e;
  });
  try {
    const { size } = await file.stat();
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'docker-content-digest': digest,
      etag: `"${digest}"`,
      'accept-ranges': 'bytes',
      'cache-control': 'max-age=31536000',
    };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range !== undefined) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      let ok = !!m && (m[1] !== '' || m[2] !== '');
      if (m && ok) {
        if (m[1] === '') {
          start = Math.max(0, size - Number(m[2]));
        } else {
          start = Number(m[1]);
          if (m[2] !== '') end = Math.min(end, Number(m[2]));
        }
        ok = start <= end && start < size;
      }
      if (!ok) {
        throw new OciError('RANGE_INVALID', `Range ${JSON.stringify(range)} is not satisfiable for ${size} bytes`, { size });
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['content-length'] = size === 0 ? 0 : end - start + 1;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || size === 0) return void res.end();
    await sendFileRange({ res, file, start, end, signal });
  } finally {
    await file.close();
  }
}
