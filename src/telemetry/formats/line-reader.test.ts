import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readLineBatches, readLines } from './line-reader.js';

test('lines keep their numbers across chunks, with \\n or \\r\\n endings and no final newline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prescient-lines-'));
  const file = join(dir, 'x.txt');
  const many = Array.from({ length: 300_000 }, (_, i) => `row ${i + 1}`); // > 1 MiB: several chunks
  writeFileSync(file, `${many.join('\r\n')}\r\nlast`);
  const seen: { line: string; lineNo: number }[] = [];
  for await (const l of readLines(file)) seen.push(l);
  assert.equal(seen.length, 300_001);
  assert.deepEqual(seen[0], { line: 'row 1', lineNo: 1 });
  assert.deepEqual(seen[299_999], { line: 'row 300000', lineNo: 300_000 });
  assert.deepEqual(seen.at(-1), { line: 'last', lineNo: 300_001 });
  let batches = 0;
  for await (const b of readLineBatches(file)) batches += b.length > 0 ? 1 : 0;
  assert.ok(batches > 1);
});
