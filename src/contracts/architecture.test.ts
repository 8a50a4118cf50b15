import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cruise, type IForbiddenRuleType } from 'dependency-cruiser';
import { repoRoot } from '../../test/support/repo.js';

// The sources, not dist/: type-only imports are erased by tsc, and they are seams too.
const root = repoRoot;

const rules: IForbiddenRuleType[] = [
  { name: 'no-cycle', comment: 'a cycle joins two stages into one; move the shared type to src/contracts/', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
  {
    name: 'no-upward-import',
    comment: 'server/ and cli/ are the edges: nothing below them may depend on them',
    severity: 'error',
    from: { path: '^src/', pathNot: '^src/(server|cli)/' },
    to: { path: '^src/(server|cli)/' },
  },
];

async function violations(): Promise<string[]> {
  const previous = process.cwd();
  process.chdir(root);
  try {
    const result = await cruise(['src'], {
      validate: true,
      ruleSet: { forbidden: rules },
      tsPreCompilationDeps: true,
      tsConfig: { fileName: 'tsconfig.json' },
      doNotFollow: { path: 'node_modules' },
      exclude: { path: '^src/ui/' },
    });
    if (typeof result.output === 'string') throw new Error('dependency-cruiser returned text, expected a result object');
    return result.output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' → ')})` : ''}`);
  } finally {
    process.chdir(previous);
  }
}

test('src/ has no import cycle, and nothing outside server/ and cli/ imports from them', { timeout: 300_000 }, async () => {
  const found = await violations();
  assert.deepEqual(found, [], `${found.length} violations:\n${found.join('\n')}`);
});
