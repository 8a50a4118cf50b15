import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The dashboard's build: served by `prescient serve` under /ui/, from dist/ui (see scripts/setup). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // Inline nothing as data: URLs and keep one small bundle: the page must load without any other host.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 300,
  },
  logLevel: 'warn',
});
