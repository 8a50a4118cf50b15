import type { Command } from 'commander';

/** Options every command accepts. */
export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/**
 * Print a command's result: the value itself as JSON with --json (stable, for scripts), or the
 * human rendering otherwise. Commands never print results any other way.
 */
export function emit<T>(cmd: Command, value: T, human: (value: T) => string): void {
  if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else {
    const text = human(value);
    if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}

/** A fixed-width table for human output. */
export function table(rows: readonly (readonly unknown[])[], header?: readonly string[]): string {
  const all = (header ? [header, ...rows] : rows).map((r) => r.map((c) => (c === undefined || c === null ? '' : String(c))));
  if (all.length === 0) return '';
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
