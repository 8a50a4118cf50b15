#!/usr/bin/env node
// The compiled CLI lives in dist/ (`npm run build`); this file only points at it.
import('../dist/src/cli/main.js').then((m) => m.main(process.argv));
