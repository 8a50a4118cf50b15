import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Grants } from '../../grants/grants.js';
import { scratchDir } from '../../../test/support/images.js';
import { createApp, listen } from '../app.js';
import { uiRoutes } from './ui-assets.js';

test('a dashboard that is not built answers 404 saying how to build it, and names no host path (the route is public)', async () => {
  const { dir, remove } = await scratchDir('prescient-ui-');
  const root = join(dir, 'install', 'dist', 'ui');
  const grants = await Grants.open({ secretsDir: join(dir, 'secrets') });
  const app = createApp({ routes: [uiRoutes({ root, grants })], auth: grants.edgeAuth() });
  try {
    const base = `http://127.0.0.1:${(await listen(app, 0)).port}`;
    for (const path of ['/ui/', '/ui/clients/acme', '/']) {
      const r = await fetch(`${base}${path}`, { redirect: 'manual' });
      if (r.status >= 300 && r.status < 400) continue; // `/` redirects to /ui/
      const text = await r.text();
      assert.equal(r.status, 404, `${path}: ${text}`);
      assert.match(text, /scripts\/setup/, text);
      assert.ok(!text.includes(dir) && !text.includes('/install/'), `${path} names a host path: ${text}`);
    }
  } finally {
    await app.close();
    await remove();
  }
});
