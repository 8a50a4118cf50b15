import { z } from 'zod';
import type { UsageVector } from '../../src/contracts/usage-vector.js';
import { defineModule, type PipelineModule } from '../../src/pipeline/define-module.js';

/**
 * A pipeline module for tests that writes one file: a real layer in a second or two (no apt),
 * for tests about layers, caches and registries rather than what a module installs.
 */
export function fileModule(input: { id: string; path: string; content: string | ((vector: UsageVector) => string); mode?: number }): PipelineModule<undefined> {
  const { id, path, content, mode } = input;
  return defineModule({
    id,
    version: 1,
    description: `test: writes ${path}`,
    optionsSchema: z.undefined(),
    plan: ({ vector }) => ({ changes: [{ kind: 'write-file', path, content: typeof content === 'string' ? content : content(vector), ...(mode === undefined ? {} : { mode }) }] }),
  });
}
