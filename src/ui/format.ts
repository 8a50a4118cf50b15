/** How times, sizes and shares read on every page. */
export function ago(ms: number | string | undefined, now = Date.now()): string {
  if (ms === undefined) return '—';
  const t = typeof ms === 'string' ? Date.parse(ms) : ms;
  const s = Math.round((now - t) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400 * 2) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export function dateTime(ms: number | string | undefined): string {
  if (ms === undefined) return '—';
  const d = new Date(typeof ms === 'string' ? Date.parse(ms) : ms);
  return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function percent(x: number | undefined, digits = 0): string {
  return x === undefined || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(digits)} %`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

export function num(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
}
