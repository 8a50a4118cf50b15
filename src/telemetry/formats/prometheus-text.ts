/**
 * The Prometheus text exposition format (version 0.0.4), as node_exporter serves it: one sample
 * per line, `name{label="value",…} value [timestamp]`; `#` lines are comments and metadata.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheusText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const s = parseLine(line);
    if (s) out.push(s);
  }
  return out;
}

function parseLine(line: string): PromSample | undefined {
  let i = 0;
  while (i < line.length && /[A-Za-z0-9_:]/.test(line[i]!)) i++;
  const name = line.slice(0, i);
  if (!name) return undefined;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (i < line.length && line[i] !== '}') {
      const eq = line.indexOf('=', i);
      if (eq < 0) return undefined;
      const key = line.slice(i, eq).trim().replace(/^,/, '').trim();
      i = eq + 1;
      if (line[i] !== '"') return undefined;
      i++;
      let value = '';
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) {
          const n = line[i + 1]!;
          value += n === 'n' ? '\n' : n;
          i += 2;
        } else value += line[i++];
      }
      i++; // closing quote
      if (line[i] === ',') i++;
      labels[key] = value;
    }
    i++; // closing brace
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const v = rest[0] === '+Inf' ? Infinity : rest[0] === '-Inf' ? -Infinity : Number(rest[0]);
  if (rest[0] === undefined || rest[0] === '' || Number.isNaN(v)) return undefined;
  return { name, labels, value: v };
}
