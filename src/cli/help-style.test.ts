import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from './main.js';

/** Names that keep their capital at the start of a sentence fragment. */
const properNouns = new Set(['Debian', 'Prometheus', 'Prescient', 'Redis', 'Kubernetes', 'QEMU']);

function* texts(cmd: Command, path: string): Generator<[string, string]> {
  if (cmd.description()) yield [path, cmd.description()];
  for (const o of cmd.options) yield [`${path} ${o.flags}`, o.description];
  for (const a of cmd.registeredArguments) if (a.description) yield [`${path} <${a.name()}>`, a.description];
  for (const sub of cmd.commands) yield* texts(sub, `${path} ${sub.name()}`);
}

test('help texts are written in one style: fragments starting lower-case, as commander\'s own ("display help for command")', () => {
  const capitalised = [...texts(buildProgram(), 'prescient')].filter(([, text]) => {
    const first = /^[A-Za-z]+/.exec(text)?.[0] ?? '';
    return /^[A-Z][a-z]+$/.test(first) && !properNouns.has(first);
  });
  assert.deepEqual(capitalised.map(([where, text]) => `${where}: ${text.slice(0, 40)}`), []);
});
