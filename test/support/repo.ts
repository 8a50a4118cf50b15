import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root, resolved from this file (it runs as dist/test/support/repo.js), never from
 * the working directory: a test or bench started from any folder finds the same tree.
 */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A path inside the repository: `repoPath('examples/vectors/web-db.json')`. */
export const repoPath = (...parts: string[]): string => join(repoRoot, ...parts);

/** `<repo>/bin/prescient.js`: the command a user runs. */
export const cliPath = repoPath('bin', 'prescient.js');
