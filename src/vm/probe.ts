import type { ImageSession } from '../image/session.js';
import type { Expectations } from './expectations.js';

/**
 * The in-guest half of verification: a oneshot unit, written into a throwaway overlay, that
 * waits for the expected services to settle and reports what the guest sees, one line per fact
 * prefixed with a marker, on the serial console. The image under test is never changed.
 */
export const probeMarker = 'PRESCIENT-VERIFY';
const scriptPath = '/usr/local/sbin/prescient-verify';
const unitName = 'prescient-verify.service';

function probeScript(e: Expectations): string {
  const units = e.units.join(' ');
  const logUnits = [...new Set([...e.units, ...(e.logUnits ?? [])])].join(' ');
  return `#!/bin/sh
# Prescient verification probe (only ever in a throwaway overlay).
say() { echo "${probeMarker} $*" > /dev/ttyS0; }
for u in ${units}; do
  i=0
  while [ "$(systemctl is-active "$u")" = activating ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done
done
say begin
say nproc "$(nproc)"
say memkb "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
say rootbytes "$(df -B1 --output=size / | tail -n 1 | tr -d ' ')"
for p in ${e.packages.join(' ')}; do say package "$p" "$(dpkg-query -W -f '\${Status}' "$p" 2>/dev/null | tr ' ' _)"; done
for u in ${units}; do say unit "$u" "$(systemctl is-active "$u")"; done
# The unit's own lines (the service's stderr, not only systemd's), for the checks that fail.
for u in ${logUnits}; do say unitlog "$u" "$(journalctl -u "$u" -n 12 --no-pager -o cat 2>/dev/null | tr '\\n' '|' | cut -c1-1500)"; done
if command -v nft >/dev/null; then
  for port in $(nft list ruleset 2>/dev/null | sed -n 's/.*tcp dport {\\{0,1\\} *\\([0-9, ]*\\)}\\{0,1\\} accept.*/\\1/p' | tr ',' ' '); do say nftport "$port"; done
  say nftloaded "$(nft list tables 2>/dev/null | wc -l)"
fi
say end
`;
}

function unitFile(e: Expectations): string {
  return `[Unit]
Description=Prescient verification probe
After=${['network-online.target', ...e.units].join(' ')}
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=${scriptPath}

[Install]
WantedBy=multi-user.target
`;
}

export async function installProbe(session: ImageSession, e: Expectations): Promise<void> {
  await session.mkdir('/usr/local/sbin', { parents: true });
  await session.writeFile(scriptPath, probeScript(e), { mode: 0o755 });
  await session.writeFile(`/etc/systemd/system/${unitName}`, unitFile(e), { mode: 0o644 });
  await session.mkdir('/etc/systemd/system/multi-user.target.wants', { parents: true });
  await session.symlink(`/etc/systemd/system/${unitName}`, `/etc/systemd/system/multi-user.target.wants/${unitName}`);
}

export interface ProbeReport {
  nproc?: number;
  memKiB?: number;
  rootBytes?: number;
  packages: Record<string, string>;
  units: Record<string, string>;
  unitLogs: Record<string, string>;
  firewallTcpPorts: number[];
  firewallLoaded: boolean;
}

/** Reads the probe's lines out of the serial log; undefined until its `end` line is there. */
export function parseProbe(serial: string): ProbeReport | undefined {
  const lines = serial.split(/\r?\n/).map((l) => l.slice(l.indexOf(probeMarker))).filter((l) => l.startsWith(`${probeMarker} `));
  if (!lines.some((l) => l === `${probeMarker} end`)) return undefined;
  const r: ProbeReport = { packages: {}, units: {}, unitLogs: {}, firewallTcpPorts: [], firewallLoaded: false };
  for (const line of lines) {
    const [, key, a = '', ...rest] = line.split(' ');
    const b = rest.join(' ');
    if (key === 'nproc') r.nproc = Number(a);
    else if (key === 'memkb') r.memKiB = Number(a);
    else if (key === 'rootbytes') r.rootBytes = Number(a);
    else if (key === 'package') r.packages[a] = b;
    else if (key === 'unit') r.units[a] = b;
    else if (key === 'unitlog') r.unitLogs[a] = b;
    else if (key === 'nftport') r.firewallTcpPorts.push(Number(a));
    else if (key === 'nftloaded') r.firewallLoaded = Number(a) > 0;
  }
  return r;
}
