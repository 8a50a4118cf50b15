import { link, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../core/digest.js';
import { ExternalToolError, ValidationError } from '../core/errors.js';
import { run } from '../core/exec.js';
import type { Registry } from './registry.js';

/**
 * Push to and pull from any other OCI registry with skopeo, which already speaks every
 * registry's auth and quirks. A version leaves through a standalone OCI layout of hard links
 * and arrives through one, whose blobs are re-verified as they enter the store
 * (Registry.importLayout); `--preserve-digests` makes skopeo fail rather than rewrite a manifest,
 * so the digest is the same on both sides.
 */

export interface RemoteOptions {
  /** Plain HTTP / unverified TLS (a registry on loopback). */
  insecure?: boolean;
  /** `user:password` for the remote registry (skopeo then follows its token challenge). */
  creds?: string;
  /** A bearer token for the remote registry, used as it is (one minted by this home's Grants). */
  registryToken?: string;
  /**
   * Pull: blobs of the image the local registry may already hold. Those it has are linked into
   * skopeo's staging layout first, and skopeo does not download a blob the layout has.
   */
  reuse?: readonly Digest[];
  signal?: AbortSignal;
}

/** `host[:port]/repo[:tag]` means the docker (distribution) transport; any skopeo transport is accepted as-is. */
export function transportRef(text: string): string {
  return /^[a-z-]+:/.test(text) && !/^[^/]+:\d+\//.test(text) && !/^localhost:/.test(text) ? text : `docker://${text}`;
}

/** The registry host (`host[:port]`) of a docker reference, `docker://` or not. */
export function registryHostOf(reference: string): string {
  return reference.replace(/^docker:\/\//, '').split('/')[0]!;
}

/**
 * skopeo's flags for one side of a command (`src`/`dest` of a copy, `inspect` for inspect):
 * TLS, and the credential or token. A credential goes in an auth file (0600, in `workDir`, which
 * mkdtemp made 0700), never on the command line, where every local user's `ps` would read it.
 * A bearer token (short-lived, minted here) has no place in an auth file and is passed as a flag.
 */
export async function skopeoAuthArgs(side: 'src' | 'dest' | 'inspect', reference: string, options: RemoteOptions, workDir: string): Promise<string[]> {
  const flag = (name: string): string => (side === 'inspect' ? `--${name}` : `--${side}-${name}`);
  const args: string[] = [];
  if (options.insecure) args.push(`${flag('tls-verify')}=false`);
  if (options.creds) {
    const file = join(workDir, `auth-${side}.json`);
    const auth = { auths: { [registryHostOf(reference)]: { auth: Buffer.from(options.creds).toString('base64') } } };
    await writeFile(file, JSON.stringify(auth), { mode: 0o600 });
    args.push(flag('authfile'), file);
  }
  if (options.registryToken) args.push(flag('registry-token'), options.registryToken);
  return args;
}

/**
 * skopeo's words for "this registry speaks plain HTTP, or has a certificate we cannot verify":
 * the fix is --insecure, so the error says so instead of passing the raw message through.
 */
const tlsTrouble = /server gave HTTP response to HTTPS client|x509:|certificate (?:signed by unknown authority|is not valid)|tls: /;

async function skopeo(args: string[], options: RemoteOptions): Promise<void> {
  try {
    await run('skopeo', args, { timeoutMs: 6 * 60 * 60 * 1000, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (e) {
    if (e instanceof ExternalToolError && !options.insecure && tlsTrouble.test(e.stderr)) {
      const plain = /HTTP response to HTTPS/.test(e.stderr);
      throw new ValidationError(
        '--insecure',
        `${plain ? 'the registry speaks plain HTTP' : 'the registry\'s TLS certificate cannot be verified'}; add --insecure if you trust it (a registry on loopback or a test registry)`,
        { tool: 'skopeo', stderr: e.stderr.trim().split('\n').slice(-3).join('\n') },
      );
    }
    // skopeo parses the reference itself (one grammar, not a second copy here); its words for a bad one name which side.
    const bad = e instanceof ExternalToolError ? /Invalid (source|destination) name (.*?): invalid reference format/.exec(e.stderr) : null;
    if (bad) {
      throw new ValidationError(
        bad[1] === 'source' ? '<source>' : '<destination>',
        `${JSON.stringify(bad[2]!.replace(/^docker:\/\//, ''))} is not an image reference: expected host[:port]/repository[:tag|@digest], lower case, no spaces`,
      );
    }
    throw e;
  }
}

export async function pushImage(registry: Registry, ref: string, destination: string, options: RemoteOptions = {}): Promise<{ digest: Digest; destination: string }> {
  const work = await mkdtemp(join(registry.layout.tmpDir, `${process.pid}-push-`));
  try {
    const layout = join(work, 'layout');
    const source = await registry.exportLayout(ref, layout, 'image');
    const dest = transportRef(destination);
    const args = ['copy', '--preserve-digests', '--digestfile', join(work, 'digest'), ...(await skopeoAuthArgs('dest', dest, options, work))];
    await skopeo([...args, `oci:${layout}:image`, dest], options);
    const pushed = (await readFile(join(work, 'digest'), 'utf8')).trim() as Digest;
    return { digest: pushed || source.digest, destination: dest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function pullImage(
  registry: Registry,
  source: string,
  repository: string,
  tag: string,
  options: RemoteOptions = {},
): Promise<{ digest: Digest; version?: number; source: string }> {
  const work = await mkdtemp(join(registry.layout.tmpDir, `${process.pid}-pull-`));
  try {
    const layout = join(work, 'layout');
    const src = transportRef(source);
    if (options.reuse?.length) {
      await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
      for (const d of options.reuse) {
        if ((await registry.layout.blobSize(d)) !== undefined) await link(registry.layout.blobPath(d), join(layout, 'blobs', 'sha256', d.slice('sha256:'.length))).catch(() => undefined);
      }
    }
    const args = ['copy', '--preserve-digests', ...(await skopeoAuthArgs('src', src, options, work))];
    await skopeo([...args, src, `oci:${layout}:image`], options);
    const r = await registry.importLayout(layout, 'image', repository, tag, options.signal);
    return { ...r, source: src };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
