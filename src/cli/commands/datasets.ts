import { realpath, rm, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js';
import { datasetDestination } from '../../policy/dataset-destination.js';
import { datasetNamePattern, loadPolicy, policyFile, savePolicy, type DatasetEntry } from '../../policy/policy.js';
import { parseByteSize } from '../../policy/byte-size.js';
import { fetchCapped } from '../../policy/fetch-capped.js';
import { cliSignal } from '../signal.js';
import { emit, formatBytes, table } from '../output.js';
import type { CommandRegistration } from './command-registration.js';

interface AddFlags {
  maxSize: string;
  destination?: string;
  replace?: boolean;
}

/** A host path the admin names: absolute (or file://), existing, a file or a folder, and not inside the Prescient home (its secrets live there). */
async function checkedSource(source: string): Promise<{ path: string; kind: DatasetEntry['kind'] }> {
  let path = source;
  if (/^[a-z][a-z0-9+.-]*:/i.test(source)) {
    if (!source.startsWith('file://')) throw new ValidationError('source', 'an absolute path, a file:// URL, or an http(s) URL');
    path = fileURLToPath(source);
  }
  if (!path.startsWith('/')) throw new ValidationError('source', `an absolute path, got ${JSON.stringify(source)}`);
  const real = await realpath(path).catch(() => undefined);
  if (!real) throw new ValidationError('source', `${path} does not exist`);
  const home = await realpath(paths().home).catch(() => paths().home);
  const within = (a: string, b: string): boolean => a === b || a.startsWith(b.endsWith(sep) ? b : b + sep);
  if (within(real, home) || within(home, real)) throw new ValidationError('source', `${real} is or holds the Prescient home (${home}), where its secrets are; register data from elsewhere`);
  const st = await stat(real);
  if (!st.isFile() && !st.isDirectory()) throw new ValidationError('source', `${real} is neither a file nor a folder`);
  return { path: real, kind: st.isFile() ? 'file' : 'folder' };
}

export const datasetsCommand: CommandRegistration = (program) => {
  const datasets = program
    .command('datasets')
    .description('the dataset catalogue of the admin policy: the only host data an image may receive')
    .addHelpText(
      'after',
      `
A usage vector names a dataset by its catalogue name (or NAME/path for a file below a
catalogued folder), never by a host path: telemetry that names a file is kept as an
observation, and a vector naming anything else is refused at planning. Each entry has a size
cap: the most the data module reads from it for one image. Kept in <home>/policy.json.

Examples:
  prescient datasets add catalogue /srv/exports/catalogue.sql.gz --max-size 2GiB
  prescient datasets add fixtures /srv/fixtures --max-size 500MiB --destination /srv/app/fixtures
  prescient datasets add prices https://data.example.org/prices.csv --max-size 10MiB
  prescient datasets ls --json
  prescient datasets rm catalogue`,
    );

  datasets
    .command('add')
    .description('register a host file or folder under a name, with a size cap')
    .argument('<name>', 'the name vectors and telemetry use (lowercase letters, digits, . _ -)')
    .argument('<source>', 'an absolute path (or file:// URL) of a file or folder, or an http(s) URL fetched now into the home (again with --replace)')
    .requiredOption('--max-size <size>', 'the most read from it for one image: bytes, or with a unit (500MiB, 2GiB, 1GB)')
    .option('--destination <guestPath>', 'where a predicted use lands in the guest (default /var/lib/prescient/datasets/<name>)')
    .option('--replace', 'replace an entry of the same name')
    .action(async (name: string, source: string, flags: AddFlags, command: Command) => {
      if (!datasetNamePattern.test(name)) throw new ValidationError('name', 'lowercase letters, digits, . _ - (one path component, at most 64)');
      const maxBytes = parseByteSize(flags.maxSize, '--max-size');
      const file = policyFile(paths());
      const policy = await loadPolicy(file);
      if (policy.datasets.some((d) => d.name === name) && !flags.replace) throw new ConflictError(`dataset ${name} is already in the catalogue (--replace to replace it)`);
      const remote = /^https?:\/\//i.test(source);
      const { path, kind } = remote ? { path: await fetchCapped(source, join(paths().home, 'cache', 'datasets', name), maxBytes, cliSignal()), kind: 'file' as const } : await checkedSource(source);
      const entry: DatasetEntry = { name, kind, path, maxBytes, ...(flags.destination ? { destination: flags.destination } : {}), ...(remote ? { url: source } : {}) };
      await savePolicy(file, { ...policy, datasets: [...policy.datasets.filter((d) => d.name !== name), entry] });
      emit(command, entry, (e) => `dataset ${e.name}: ${e.kind} ${e.path}, at most ${formatBytes(e.maxBytes)} per image, lands at ${datasetDestination(e)}`);
    });

  datasets
    .command('ls')
    .description('the dataset catalogue')
    .action(async (_opts: unknown, command: Command) => {
      const policy = await loadPolicy(policyFile(paths()));
      emit(command, policy.datasets, (ds) =>
        ds.length === 0
          ? 'the dataset catalogue is empty: no vector may copy host data in (add one: prescient datasets add NAME PATH --max-size SIZE)'
          : table(ds.map((d) => [d.name, d.kind, formatBytes(d.maxBytes), datasetDestination(d), d.path]), ['NAME', 'KIND', 'CAP', 'DESTINATION', 'SOURCE']),
      );
    });

  datasets
    .command('rm')
    .description('remove a dataset from the catalogue (vectors naming it are refused from then on)')
    .argument('<name>', 'as datasets ls lists it')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const file = policyFile(paths());
      const policy = await loadPolicy(file);
      const entry = policy.datasets.find((d) => d.name === name);
      if (!entry) throw new NotFoundError(`no dataset ${name} in the catalogue`);
      await savePolicy(file, { ...policy, datasets: policy.datasets.filter((d) => d.name !== name) });
      if (entry.url) await rm(entry.path, { force: true }); // our copy of remote data, not the admin's file
      emit(command, { removed: name }, (v) => `dataset ${v.removed} removed from the catalogue`);
    });
};
