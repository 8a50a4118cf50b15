import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract } from '../store-contract.js';
import { openSqliteStore } from './sqlite-store.js';

storeContract('sqlite', async () => openSqliteStore({ file: join(mkdtempSync(join(tmpdir(), 'prescient-store-')), 'prescient.db') }));
