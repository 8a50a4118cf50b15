import assert from 'node:assert/strict';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';

/**
 * What a revoked consent leaves of a guest's reports in the store at `file`: nothing, neither
 * activity (samples, programs, flows, accesses) nor the images the guest ran.
 */
export async function assertNoGuestData(file: string, subject: string): Promise<void> {
  const store = openSqliteStore({ file });
  try {
    assert.deepEqual(await store.guestActivity(subject), { samples: [], programs: [], flows: [], accesses: [] });
    assert.deepEqual(await store.guestImages(subject), []);
  } finally {
    await store.close();
  }
}
