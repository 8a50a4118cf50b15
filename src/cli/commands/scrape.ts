import { Option, type Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, ValidationError } from '../../core/errors.js';
import { categorySchema } from '../../contracts/category.js';
import { eventSources, subjectSchema, type EventSource, type ResourceSample, type Subject } from '../../contracts/telemetry-event.js';
import { emptyReport, mergeReports } from '../../telemetry/ingest.js';
import { createNodeExporterSampler } from '../../telemetry/node-exporter.js';
import { openPrescient } from '../../app/open-prescient.js';
import { addAnonymisationOptions, anonymisationOptions } from '../ingestion-options.js';
import { emit, globalOptions } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';
import { plural } from '../plural.js';

interface ScrapeOptions {
  subject?: string;
  category?: string;
  source: EventSource;
  interval: string;
  count: string;
  timeout: string;
  ipv4Prefix: string;
  ipv6Prefix: string;
}

export const scrapeCommand: CommandRegistration = (program) => {
  const cmd = program
    .command('scrape')
    .description('sample a Prometheus node_exporter endpoint into the store (CPU, memory, disk, network)')
    .argument('<url>', 'the metrics URL, e.g. http://127.0.0.1:9100/metrics')
    .option('--subject <kind:id>', 'whose machine this is (default: vm:<nodename from node_uname_info>)')
    .option('--category <slug>', 'category of the subject')
    .addOption(new Option('--source <source>', 'where the exporter runs: agent = inside a guest (needs consent)').choices(eventSources).default('agent'))
    .option('--interval <seconds>', 'time between scrapes; counters become rates over it', '5')
    .option('--count <n>', 'samples to take (one scrape more than that: the first is the baseline)', '1')
    .option('--timeout <seconds>', 'per scrape', '10');
  addAnonymisationOptions(cmd)
    .addHelpText(
      'after',
      `
Counters (CPU seconds, disk and network bytes) are turned into rates between consecutive
scrapes, so N samples take N+1 scrapes. node_exporter usually runs inside the machine it
measures, hence --source agent by default: such data is stored only with the subject's consent.

Examples:
  prescient scrape http://127.0.0.1:9100/metrics --source hypervisor
  prescient scrape http://10.0.0.7:9100/metrics --subject vm:web-17 --count 12 --interval 300`,
    )
    .action(async (url: string, opts: ScrapeOptions, command: Command) => {
      let parsedUrl: URL;
      try {
        parsedUrl = new URL(url);
      } catch {
        throw new ValidationError('<url>', 'not a URL');
      }
      if (!/^https?:$/.test(parsedUrl.protocol)) throw new ValidationError('<url>', 'expected an http or https URL');
      const interval = Number(opts.interval);
      const count = Number(opts.count);
      const timeout = Number(opts.timeout);
      if (!(interval > 0)) throw new ValidationError('--interval', 'expected a positive number of seconds');
      if (!Number.isInteger(count) || count < 1) throw new ValidationError('--count', 'expected a positive integer');
      if (!(timeout > 0)) throw new ValidationError('--timeout', 'expected a positive number of seconds');
      if (opts.category !== undefined && !categorySchema.safeParse(opts.category).success) throw new ValidationError('--category', 'expected a lower-case slug');
      let subject: Subject | undefined;
      if (opts.subject !== undefined) {
        const r = subjectSchema.safeParse(opts.subject);
        if (!r.success) throw new ValidationError('--subject', 'expected KIND:ID with KIND user, client or vm');
        subject = r.data;
      }
      const signal = cliSignal();
      const progress = createProgress({ quiet: globalOptions(command).quiet === true });
      const sampler = createNodeExporterSampler({ url, timeoutMs: timeout * 1000 });
      const ingestion = await (await openPrescient(anonymisationOptions(opts))).ingestion();
      const report = emptyReport();
      let scrapes = 0;
      try {
        progress.step(`scraping ${url}`);
        await sampler.scrape(signal);
        scrapes++;
        for (let i = 0; i < count; i++) {
          progress.detail(`sample ${i + 1}/${count}`);
          try {
            await sleep(interval * 1000, undefined, { signal });
          } catch {
            throw new AbortedError('scrape');
          }
          const s = await sampler.scrape(signal);
          scrapes++;
          const who = subject ?? { kind: 'vm' as const, id: s.nodename ?? parsedUrl.hostname };
          const event: ResourceSample = { kind: 'resource', time: s.timeMs, subject: who, source: opts.source, ...(opts.category ? { category: opts.category } : {}), ...s.fields };
          mergeReports(report, await ingestion.ingestor.ingest({ events: [event], positions: [`scrape ${scrapes}`] }));
        }
        progress.done(`${plural(report.accepted, 'sample')} stored`);
      } catch (e) {
        progress.fail((e as Error).message);
        throw e;
      } finally {
        await ingestion.close();
      }
      emit(command, { scrapes, ...report }, (v) =>
        [`${plural(v.scrapes, 'scrape')}: ${plural(v.accepted, 'sample')} stored, ${v.refused} refused for want of consent`, ...v.errors.map((e) => `  ${e.at}: ${e.reason}`)].join('\n'),
      );
    });
};
