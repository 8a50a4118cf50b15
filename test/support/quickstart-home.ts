import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { paths } from '../../src/core/config.js';
import { workflowConfigFiles } from '../../src/workflow/open-request-workflow.js';
import { prescient } from './cli.js';
import { testHomes } from './homes.js';
import { debianBase, testHome } from './images.js';

/** The quickstart's clients and categories (scripts/quickstart). */
export const quickstartClients = ['webshop', 'blog', 'ledger', 'lab'] as const;
export const quickstartCategories = ['web', 'database', 'dev'] as const;

/** scripts/quickstart's identification rules. */
export const quickstartIdentify = {
  rules: [
    { kind: 'account', account: 'ops@webshop.example', clientId: 'webshop', category: 'web' },
    { kind: 'pattern', field: 'account', regex: '@ledger\\.example$', clientId: 'ledger', category: 'database' },
  ],
  fallbackCategory: 'general',
};

/** Bump when what the template holds changes, so an old one is made again. */
const templateFormat = 'quickstart-template-1';

async function must(home: string, args: readonly string[]): Promise<unknown> {
  const r = await prescient(home, args, 30 * 60_000);
  if (r.code !== 0) throw new Error(`prescient ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.json;
}

/**
 * The quickstart's telemetry ingested and its three categories trained, once per test home:
 * training is the slow part (minutes), and nothing in it depends on the test using it. The
 * template keeps the store, the models and the pseudonymisation key that goes with the store.
 */
async function trainedTemplate(): Promise<string> {
  const dir = join(testHome(), 'quickstart-template');
  if ((await readFile(join(dir, 'READY'), 'utf8').catch(() => '')) === templateFormat) return dir;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await must(dir, ['sample-telemetry', '--days', '14', '--out', join(dir, 'telemetry.ndjson')]);
  await must(dir, ['ingest', join(dir, 'telemetry.ndjson'), '--format', 'ndjson']);
  await rm(join(dir, 'telemetry.ndjson'));
  // A shorter budget than the quickstart's 90 s: the network stops early, keeping its best epoch.
  for (const c of quickstartCategories) await must(dir, ['train', '--category', c, '--time-budget', '30']);
  await writeFile(join(dir, 'READY'), templateFormat);
  return dir;
}

/**
 * A fresh PRESCIENT_HOME holding what the quickstart leaves behind before `serve`: synthetic
 * telemetry of four made-up clients, trained models, identify.json, and every client's image
 * prepared (through the layer cache shared by the test run, so only a first run builds layers).
 */
export async function quickstartHome(): Promise<{ home: string; remove: () => Promise<void> }> {
  await debianBase();
  const template = await trainedTemplate();
  const homes = await testHomes({ prefix: 'quickstart', names: ['home'], share: ['bases', 'layers', 'cache'] });
  const home = homes.homes.home;
  // The store's files with their WALs (no process holds the template open, so together they are consistent).
  const names = ['prescient.db', 'prescient-rollups.db'].flatMap((f) => [f, `${f}-wal`, `${f}-shm`]);
  for (const name of [...names, 'models', 'secrets']) await cp(join(template, name), join(home, name), { recursive: true }).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
  // Client credentials are the test's own: start with none.
  await rm(join(paths(home).secrets, 'clients.json'), { force: true });
  await writeFile(workflowConfigFiles(paths(home)).identify, JSON.stringify(quickstartIdentify));
  await must(home, ['prepare', ...quickstartClients]);
  return { home, remove: homes.remove };
}
