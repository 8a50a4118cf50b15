import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { LayerCache } from '../../pipeline/layer-cache.js';
import { emit, formatBytes } from '../output.js';
import { parseDuration } from './images.js';
import type { CommandRegistration } from './command-registration.js';

/**
 * The pipeline's layer cache. Its layers and the registry's blobs are the same files (hard
 * links), so cleaning either never takes what the other still needs.
 */
export const layersCommand: CommandRegistration = (program: Command) => {
  const layers = program.command('layers').description('the pipeline layer cache (content-addressed qcow2 overlays shared with the registry)');
  layers
    .command('ls')
    .description('cached layers: key, module, last use')
    .action(async (_o: unknown, cmd: Command) => {
      const list = await new LayerCache(paths().layers).list();
      const rows = list.sort((a, b) => a.usedAt.getTime() - b.usedAt.getTime()).map((r) => ({ key: r.key, module: r.module, parent: r.parent, path: r.path, usedAt: r.usedAt.toISOString() }));
      emit(cmd, rows, (v) => (v.length ? v.map((r) => `${r.key.slice(0, 12)} ${r.module.padEnd(10)} used ${r.usedAt} ${r.path}`).join('\n') : 'no layers cached yet'));
    });
  layers
    .command('gc')
    .description('forget layers unused for a while (leaves first); a registered version keeps its blobs')
    .option('--older-than <duration>', 'remove layers not used for this long', '7d')
    .option('--dry-run', 'only list what would be removed')
    .action(async (o: { olderThan: string; dryRun?: boolean }, cmd: Command) => {
      const r = await new LayerCache(paths().layers).gc({ olderThanMs: parseDuration(o.olderThan, '--older-than'), dryRun: !!o.dryRun });
      emit(cmd, r, (v) => `${v.dryRun ? 'would remove' : 'removed'} ${v.removed.length} layers (${formatBytes(v.bytesFreed)} freed), kept ${v.kept}`);
    });
};
