/** Resource samples of `subject` as NDJSON, `mib` MiB, each at its own time (body `k`'s times never meet another's): a telemetry flood. */
export function floodBody(k: number, mib: number, subject: string): { body: Buffer; events: number } {
  const t0 = Date.UTC(2026, 0, 1) + k * 1e9;
  const lines: string[] = [];
  let size = 0;
  while (size < mib * 1024 * 1024 - 200) {
    const line = JSON.stringify({ kind: 'resource', time: t0 + lines.length * 1000, subject, source: 'hypervisor', cpuPercent: lines.length % 100, memoryBytes: 1e9 + lines.length });
    lines.push(line);
    size += line.length + 1;
  }
  return { body: Buffer.from(lines.join('\n')), events: lines.length };
}
