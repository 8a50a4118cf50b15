import type { Command } from 'commander';
import { join } from 'node:path';
import { clientAccuracy, type ClientAccuracy } from '../../accuracy/client-accuracy.js';
import { paths } from '../../core/config.js';
import { checkClientId } from '../../contracts/identifiers.js';
import { programPackages } from '../../predict/program-packages.js';
import { openPrescient } from '../../app/open-prescient.js';
import { emit, table } from '../output.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';

export const accuracyCommand: CommandRegistration = (program) => {
  program
    .command('accuracy')
    .description("predicted against observed for each image version the client ran, from its in-guest agent's reports")
    .argument('<client>', 'client id')
    .option('--no-archive-index', "name the packages of missed programs from this machine's dpkg lists only (no Contents download)")
    .addHelpText(
      'after',
      `
Per version: resources (observed p95 of CPU and memory against the allocation: share of minutes
above the predicted p95, at the allocation, and the waste), software (predicted and used, predicted
and never used, used but missing with the package that would have served it), services and
ports (predicted and receiving connections, predicted and idle, connections refused on closed
ports) and datasets (read or not). Needs the client's in-guest consent: without it there is no
agent, so nothing to score. The same report: GET /v1/clients/<id>/accuracy.

Examples:
  prescient accuracy webshop
  prescient --json accuracy webshop | jq '.versions[-1].software'`,
    )
    .action(async (client: string, opts: { archiveIndex: boolean }, command: Command) => {
      checkClientId(client, '<client>');
      const p = paths();
      const prescient = await openPrescient();
      try {
        const ingestion = await prescient.ingestion();
        const registry = await prescient.registry();
        const packages = await programPackages({ root: '/', archive: opts.archiveIndex, cacheDir: join(p.packageCache, 'contents'), signal: cliSignal(), warn: (m) => process.stderr.write(`warning: ${m}\n`) });
        const report = await clientAccuracy({ registry, store: ingestion.store, anonymiser: ingestion.anonymiser, packages }, client);
        emit(command, report, renderAccuracy);
      } finally {
        await prescient.close();
      }
    });
};

export function renderAccuracy(r: ClientAccuracy): string {
  if (r.versions.length === 0) return `no version of ${r.clientId} has reported from inside its guest (no in-guest consent, or not run yet)`;
  return r.versions
    .map((v) => {
      const res = (name: string, s: ClientAccuracy['versions'][number]['resources']['cpu'], unit: string) => [
        name,
        `${s.allocated} ${unit}`,
        `${s.predictedP95} ${unit}`,
        s.observedP95 === null ? '-' : `${s.observedP95} ${unit}`,
        s.shareAbovePredicted === null ? '-' : `${(s.shareAbovePredicted * 100).toFixed(1)} %`,
        s.shareSaturated === null ? '-' : `${(s.shareSaturated * 100).toFixed(1)} %`,
        s.waste === null ? '-' : `${s.waste} ${unit} (${((s.wasteShare ?? 0) * 100).toFixed(0)} %)`,
      ];
      const s = v.software;
      const n = v.services;
      return [
        `version ${v.version ?? '?'} ${v.digest} — ${v.observed.samples} minutes observed, ${new Date(v.observed.fromMs).toISOString()} → ${new Date(v.observed.toMs).toISOString()}`,
        table([res('cpu', v.resources.cpu, 'vCPU'), res('memory', v.resources.memory, 'MiB')], ['RESOURCE', 'ALLOCATED', 'PREDICTED P95', 'OBSERVED P95', 'ABOVE PREDICTED', 'AT ALLOCATION', 'WASTE']),
        `software used:      ${s.used.map((u) => `${u.package} (${u.evidence.join(', ')})`).join('; ') || '-'}`,
        `software unused:    ${s.unused.join(', ') || '-'}`,
        `software missing:   ${s.missing.map((m) => (m.how === 'command-not-found' ? `${m.program} not found${m.package ? ` (package ${m.package})` : ''}` : `${m.package} installed after delivery`)).join('; ') || '-'}`,
        `ports receiving:    ${n.receiving.map((p) => `${p.protocol}/${p.port} (${p.connections})`).join(', ') || '-'}`,
        `ports idle:         ${n.idle.map((p) => `${p.protocol}/${p.port}${p.listening ? '' : ' (not listening)'}`).join(', ') || '-'}`,
        `refused (closed):   ${n.refused.map((p) => `${p.protocol}/${p.port} (${p.attempts})`).join(', ') || '-'}`,
        `datasets:           ${v.datasets.map((d) => `${d.destination} ${d.read ? 'read' : 'never read'}`).join('; ') || '-'}`,
      ].join('\n');
    })
    .join('\n\n');
}
