import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../../core/errors.js';
import type { Grants } from '../../grants/grants.js';
import type { RouteSet } from '../router.js';
import { sendCompressed } from '../send-compressed.js';

export interface UiRoutesDeps {
  /** The Vite build (`dist/ui`): index.html and assets/. */
  root: string;
  grants: Grants;
}

/** Where `scripts/setup` builds the dashboard: `dist/ui` (this file runs from dist/src/server/routes). */
export function uiBuildDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'ui');
}

const types: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Nothing is loaded from another host; inline script is not needed by the build, so none is allowed. */
const securityHeaders = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

/**
 * The dashboard under `/ui/`: hashed assets (cached for good), and the app's page for every
 * other path. A client's page of another client is refused here already (403), not only by
 * the API calls it makes.
 */
export function uiRoutes(deps: UiRoutesDeps): RouteSet {
  const root = resolve(deps.root);
  let page: Promise<string> | undefined;
  const indexHtml = (): Promise<string> =>
    (page ??= readFile(join(root, 'index.html'), 'utf8').catch((e: unknown) => {
      page = undefined;
      // The route is public: the error's code only, never the install path its message holds.
      throw new AppError('NOT_FOUND', `the dashboard is not built (index.html: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}); run bash scripts/setup`, { details: { rule: 'dashboard-built' } });
    }));
  const assets = new Map<string, Promise<Buffer>>();
  const remember = (file: string): Promise<Buffer> => {
    const p = stat(file).then(
      async (s) => {
        if (!s.isFile()) throw new AppError('NOT_FOUND', 'no such asset');
        return readFile(file);
      },
      () => {
        throw new AppError('NOT_FOUND', 'no such asset');
      },
    );
    p.catch(() => assets.delete(file));
    assets.set(file, p);
    return p;
  };
  return [
    {
      method: 'GET',
      path: '/',
      scope: 'public',
      summary: "redirects to the dashboard (/ui/)",
      handler: ({ res }) => {
        res.writeHead(302, { location: '/ui/' });
        res.end();
      },
    },
    {
      method: 'GET',
      path: '/ui',
      scope: 'public',
      summary: "redirects to /ui/",
      handler: ({ res }) => {
        res.writeHead(302, { location: '/ui/' });
        res.end();
      },
    },
    {
      method: 'GET',
      path: '/ui/assets/:file',
      scope: 'public',
      summary: "the dashboard's built assets (hashed names, cached for good)",
      handler: async ({ req, res, params }) => {
        if (!/^[A-Za-z0-9._-]+$/.test(params['file']!)) throw new AppError('NOT_FOUND', 'no such asset');
        const file = resolve(root, 'assets', params['file']!);
        if (!file.startsWith(root + sep)) throw new AppError('NOT_FOUND', 'no such asset');
        // Assets are a few small hashed files that never change under one name: read once, kept in memory.
        const body = await (assets.get(file) ?? remember(file));
        await sendCompressed(req, res, 200, body, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'public, max-age=31536000, immutable', ...securityHeaders });
      },
    },
    {
      method: 'GET',
      path: '/ui/*',
      scope: 'public',
      summary: "the dashboard's pages (a client credential's session gets 403 on another client's page)",
      handler: async ({ req, res, url }) => {
        const client = /^\/ui\/clients\/([^/]+)\/?$/.exec(url.pathname)?.[1];
        let status = 200;
        if (client !== undefined) {
          let p: ReturnType<Grants['credentialOf']>;
          try {
            p = deps.grants.credentialOf(req);
          } catch {
            p = undefined; // a stale cookie: the app shows the login
          }
          if (p?.kind === 'client' && p.clientId !== client) status = 403;
        }
        const html = await indexHtml();
        res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store', ...securityHeaders });
        res.end(html);
      },
    },
  ];
}
