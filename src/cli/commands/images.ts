import { openPrescient } from '../../app/open-prescient.js';
import { chmod } from 'node:fs/promises';
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import { exportContainerDisk, exportFlat, type ContainerDiskExport, type FlatExport } from '../../registry/export.js';
import type { Registry } from '../../registry/registry.js';
import type { VersionDiff } from '../../registry/version-diff.js';
import { plural } from '../plural.js';
import { readJsonInput } from '../read-input.js';
import { emit, formatBytes, globalOptions, table } from '../output.js';
import { createProgress } from '../progress.js';
import { libvirtAccessProblems } from '../../vm/libvirt-access.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';

const short = (d: string): string => d.slice(7, 19);

export async function openHomeRegistry(options: { readOnly?: boolean } = {}): Promise<Registry> {
  return (await openPrescient()).registry(options);
}

/** Reading commands create nothing: not the home, not the layout, not a lease. */
const forReading = { readOnly: true } as const;

/** `30s`, `15m`, `1h`, `2d` or plain milliseconds. */
export function parseDuration(text: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new ValidationError(field, `${JSON.stringify(text)} is not a duration (30s, 15m, 1h, 2d)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms']!;
  return Number(m[1]) * unit;
}

export const imagesCommand: CommandRegistration = (program: Command) => {
  const images = program
    .command('images')
    .description('personalised image versions in the registry: history, tags, rollback, diff, export, gc')
    .addHelpText(
      'after',
      '\nA reference is <repository>[:<tag>] or <repository>@sha256:<digest>; every version has an\nimmutable tag v<n>, `latest` moves.\n\nExamples:\n  prescient images ls\n  prescient images ls clients/acme\n  prescient images diff clients/acme:v1 clients/acme:v2\n  prescient images rollback clients/acme            # latest → the version before\n  prescient images gc --dry-run\n',
    );

  images
    .command('ls')
    .description('list repositories, or the versions of one repository')
    .argument('[repository]', 'a client repository, e.g. clients/acme')
    .action(async (repository: string | undefined, _o: unknown, cmd: Command) => {
      const registry = await openHomeRegistry(forReading);
      if (!repository) {
        const repos = await Promise.all((await registry.repositories()).map(async (r) => ({ repository: r, versions: (await registry.versions(r)).length, tags: [...(await registry.tags(r)).keys()].filter((t) => !/^v\d+$/.test(t)) })));
        emit(cmd, repos, (rs) => (rs.length ? table(rs.map((r) => [r.repository, r.versions, r.tags.join(',')]), ['REPOSITORY', 'VERSIONS', 'TAGS']) : 'no images yet'));
        return;
      }
      const versions = await registry.versions(repository);
      emit(cmd, versions, (vs) => table(vs.map((v) => [`v${v.version}`, short(v.digest), v.created ?? '', v.tags.filter((t) => t !== `v${v.version}`).join(','), v.parent ? short(v.parent) : '']), ['VERSION', 'DIGEST', 'CREATED', 'TAGS', 'PARENT']));
    });

  images
    .command('show')
    .description('one version: history entry, layers and a summary of its provenance (usage vector, plan, VM spec, base, model, timings)')
    .argument('<ref>', 'clients/acme:latest, clients/acme:v3, clients/acme@sha256:…')
    .option('--packages', "also list every package of the base image (--json always carries the full provenance)")
    .action(async (ref: string, o: { packages?: boolean }, cmd: Command) => {
      const s = await (await openHomeRegistry(forReading)).show(ref);
      emit(cmd, s, (v) => renderShow(ref, v, !!o.packages));
    });

  images
    .command('diff')
    .description('what changed between two versions: packages, configuration files, resources, data, layers')
    .argument('<from>', 'the older reference')
    .argument('<to>', 'the newer reference')
    .action(async (from: string, to: string, _o: unknown, cmd: Command) => {
      const d = await (await openHomeRegistry(forReading)).diff(from, to);
      emit(cmd, d, renderDiff);
    });

  images
    .command('tag')
    .description('point a moving tag at a version (version tags v<n> never move)')
    .argument('<ref>', 'the version, e.g. clients/acme:v3')
    .argument('<tag>', 'the tag to set, e.g. stable')
    .action(async (ref: string, tag: string, _o: unknown, cmd: Command) => {
      const r = await (await openHomeRegistry()).tag(ref, tag);
      emit(cmd, r, (v) => `${v.repository}:${v.tag} → ${v.digest}${v.previous ? ` (was ${short(v.previous)})` : ''}`);
    });

  images
    .command('rollback')
    .description('move a tag (latest) back to an earlier version at once; nothing is copied')
    .argument('<repository>', 'e.g. clients/acme')
    .option('--to <version>', 'the version to return to (3, v3, a tag or a digest); default: the one before')
    .option('--tag <tag>', 'the tag to move', 'latest')
    .action(async (repository: string, o: { to?: string; tag: string }, cmd: Command) => {
      const prescient = await openPrescient();
      const external = await prescient.external();
      const options = { tag: o.tag, ...(o.to ? { to: o.to } : {}) };
      // with a shared registry the tag moves there too, or the next build would bring the newer version back
      const r = external ? await external.rollback(repository, { ...options, signal: cliSignal() }) : await (await prescient.registry()).rollback(repository, options);
      emit(cmd, r, (v) => `${v.repository}:${v.tag} → v${v.version} ${v.to}${v.from ? ` (was ${short(v.from)})` : ''}`);
    });

  images
    .command('rm')
    .description('remove a tag, or a version with its tags (its blobs go at the next gc)')
    .argument('<ref>', 'clients/acme:stable (a tag) or clients/acme:v2 / @sha256:… (a version)')
    .option('--force', 'also remove moving tags that still name the version')
    .action(async (ref: string, o: { force?: boolean }, cmd: Command) => {
      const r = await (await openHomeRegistry()).remove(ref, { force: !!o.force });
      emit(cmd, r, (v) => `removed ${v.removed.join(', ')}`);
    });

  images
    .command('gc')
    .description('delete blobs no tag, retained version or pull in progress references')
    .option('--grace <duration>', 'keep unreferenced blobs younger than this (uploads in progress)', '1h')
    .option('--lease <duration>', 'keep what a pull read in this window', '15m')
    .option('--dry-run', 'only list what would be removed')
    .action(async (o: { grace: string; lease: string; dryRun?: boolean }, cmd: Command) => {
      const r = await (await openHomeRegistry()).gc({ graceMs: parseDuration(o.grace, '--grace'), leaseMs: parseDuration(o.lease, '--lease'), dryRun: !!o.dryRun });
      emit(cmd, r, (v) => `${v.dryRun ? 'would remove' : 'removed'} ${plural(v.removed.length, 'blob')} (${formatBytes(v.bytesFreed)}), kept ${v.kept}`);
    });

  images
    .command('checkout')
    .description('materialise a version as an openable qcow2 chain in a folder (prints the top overlay)')
    .argument('<ref>', 'e.g. clients/acme:latest')
    .argument('<dir>', 'the folder to write the chain into')
    .action(async (ref: string, dir: string, _o: unknown, cmd: Command) => {
      const progress = createProgress({ quiet: !!globalOptions(cmd).quiet });
      progress.step(`checking out ${ref}`);
      const r = await (await openHomeRegistry()).checkout(ref, resolve(dir), cliSignal());
      // libvirt's QEMU runs as its own user: the chain must be readable by it, folders included.
      for (const f of r.files) await chmod(f, 0o644);
      const warnings = (await libvirtAccessProblems(r.files)).map((w) => `libvirt's QEMU user cannot open the chain (${w}); check out into a folder others can read`);
      progress.done(plural(r.files.length, 'layer'));
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      emit(cmd, { ...r, warnings }, (v) => v.top);
    });

  images
    .command('register')
    .description('store a qcow2 chain (base first) as the next version of a repository')
    .argument('<repository>', 'e.g. clients/acme')
    .requiredOption('--layer <path...>', 'qcow2 files, base first, each overlay backed by the one before')
    .option('--config <file>', 'provenance JSON (usage vector, plan, VM spec…), or - for stdin')
    .option('--tag <tag...>', 'moving tags to set', ['latest'])
    .addHelpText('after', '\nExample:\n  prescient images register clients/acme --layer base.qcow2 --layer web.qcow2 --config provenance.json\n')
    .action(async (repository: string, o: { layer: string[]; config?: string; tag: string[] }, cmd: Command) => {
      const progress = createProgress({ quiet: !!globalOptions(cmd).quiet });
      const config = o.config ? await readJsonInput(o.config, '--config') : {};
      if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ValidationError('--config', 'must be a JSON object');
      progress.step(`registering ${repository}`);
      const r = await (await openHomeRegistry()).register({
        repository,
        layers: o.layer.map((path) => ({ path: resolve(path) })),
        config: config as Record<string, unknown>,
        tags: o.tag,
        signal: cliSignal(),
        onLayer: (l) => progress.detail(`layer ${l.index + 1}/${o.layer.length}${l.written ? '' : ' (already stored)'}`),
      });
      progress.done(`${formatBytes(r.bytesWritten)} written`);
      emit(cmd, r, (v) => `${v.repository}:v${v.version} ${v.digest} (${v.layers.filter((l) => l.reused).length}/${plural(v.layers.length, 'layer')} reused, ${formatBytes(v.bytesWritten)} written)`);
    });

  images
    .command('export')
    .description('export a version as a flat standalone qcow2 and/or a KubeVirt containerDisk (OCI layout)')
    .argument('<ref>', 'e.g. clients/acme:latest')
    .option('--flat <file>', 'write the merged chain here (qemu-img check clean)')
    .option('--container-disk <dir>', 'write a containerDisk OCI layout here (disk/<name>.qcow2, owner 107:107)')
    .option('--name <name>', 'disk file name inside the containerDisk', 'disk')
    .option('--ref-name <tag>', 'ref name in the containerDisk layout', 'latest')
    .addHelpText('after', '\nExamples:\n  prescient images export clients/acme:v3 --flat acme.qcow2\n  prescient images export clients/acme --container-disk ./acme-cd\n  skopeo copy --preserve-digests oci:./acme-cd:latest docker://registry.example/acme-disk:v3\n')
    .action(async (ref: string, o: { flat?: string; containerDisk?: string; name: string; refName: string }, cmd: Command) => {
      if (!o.flat && !o.containerDisk) throw new ValidationError('--flat', 'give --flat <file> and/or --container-disk <dir>');
      const registry = await openHomeRegistry();
      const progress = createProgress({ quiet: !!globalOptions(cmd).quiet });
      const out: Record<string, unknown> = {};
      if (o.flat) {
        progress.step('flattening');
        out['flat'] = await exportFlat(registry, ref, resolve(o.flat), cliSignal());
        progress.done();
      }
      if (o.containerDisk) {
        progress.step('building the containerDisk');
        out['containerDisk'] = await exportContainerDisk(registry, ref, resolve(o.containerDisk), { name: o.name, refName: o.refName, signal: cliSignal() });
        progress.done();
      }
      emit(cmd, out as { flat?: FlatExport; containerDisk?: ContainerDiskExport }, (v) =>
        [
          ...(v.flat ? [`flat qcow2:     ${v.flat.path} (${formatBytes(v.flat.size)}, from ${short(v.flat.digest)})`] : []),
          ...(v.containerDisk ? [`containerDisk:  ${v.containerDisk.layout}:${v.containerDisk.refName} (${v.containerDisk.digest}, from ${short(v.containerDisk.source)})`] : []),
        ].join('\n'),
      );
    });
};

function renderDiff(d: VersionDiff): string {
  const set = (title: string, s: { added: string[]; removed: string[]; changed?: string[] }): string[] =>
    s.added.length || s.removed.length || s.changed?.length
      ? [`${title}:`, ...s.added.map((x) => `  + ${x}`), ...s.removed.map((x) => `  - ${x}`), ...(s.changed ?? []).map((x) => `  ~ ${x}`)]
      : [];
  const fields = (title: string, cs: VersionDiff['resources']): string[] => (cs.length ? [`${title}:`, ...cs.map((c) => `  ~ ${c.path}: ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`)] : []);
  const lines = [
    `${short(d.from)} → ${short(d.to)}: ${plural(d.layers.shared, 'layer')} shared, ${d.layers.added.length} added, ${d.layers.removed.length} removed`,
    ...set('packages', d.packages),
    ...set('files', d.files),
    ...set('data', d.data),
    ...fields('resources', d.resources),
    ...fields('other', d.other),
  ];
  return lines.join('\n');
}

type Shown = Awaited<ReturnType<Registry['show']>>;

/** A screenful: what a person checks first. The full provenance is in --json. */
function renderShow(ref: string, v: Shown, withPackages: boolean): string {
  const c = v.config as {
    usageVector?: { subject?: { clientId?: string; category?: string }; confidence?: number; software?: { name: string; probability: number }[]; services?: { name: string }[] };
    plan?: { modules?: { id: string; version: number; changes?: unknown[] }[] };
    vmSpec?: { vcpus?: number; memoryMiB?: number; diskGiB?: number; swapMiB?: number };
    baseFacts?: { os?: { prettyName?: string; id?: string }; architecture?: string; packages?: { name: string; version?: string }[] };
    model?: { id?: string; version?: string };
    timings?: { module: string; outcome: string; ms: number }[];
    verification?: { ok?: boolean };
  };
  const uv = c.usageVector;
  const packages = c.baseFacts?.packages ?? [];
  const lines = [
    `${ref}  ${v.digest}`,
    ...(v.version ? [`version ${v.version.version}, tags ${v.version.tags.join(', ')}${v.version.created ? `, created ${v.version.created}` : ''}`] : []),
    ...(v.version?.parent ? [`built after ${v.version.parent}`] : []),
    `layers (base first): ${v.manifest.layers.length}, ${formatBytes(v.manifest.layers.reduce((n, l) => n + l.size, 0))}`,
    ...v.manifest.layers.map((l, i) => `  ${i}  ${l.digest}  ${formatBytes(l.size)}`),
  ];
  if (uv) {
    const who = [uv.subject?.clientId && `client ${uv.subject.clientId}`, uv.subject?.category && `category ${uv.subject.category}`].filter(Boolean).join(', ');
    lines.push(`vector:    ${who || '(no subject)'}${c.model?.id ? `, model ${c.model.id} v${c.model.version ?? '?'}` : ''}${uv.confidence !== undefined ? `, confidence ${uv.confidence}` : ''}`);
    if (uv.software?.length) lines.push(`software:  ${uv.software.map((x) => `${x.name} (${x.probability})`).join(', ')}`);
    if (uv.services?.length) lines.push(`services:  ${uv.services.map((x) => x.name).join(', ')}`);
  }
  if (c.vmSpec) lines.push(`VM spec:   ${c.vmSpec.vcpus} vCPUs, ${c.vmSpec.memoryMiB} MiB, ${c.vmSpec.diskGiB} GiB disk, ${c.vmSpec.swapMiB ?? 0} MiB swap`);
  if (c.plan?.modules) lines.push(`plan:      ${c.plan.modules.map((m) => `${m.id} v${m.version} (${plural(m.changes?.length ?? 0, 'change')})`).join(', ')}`);
  if (c.timings?.length) lines.push(`built in:  ${(c.timings.reduce((n, t) => n + t.ms, 0) / 1000).toFixed(1)} s (${c.timings.map((t) => `${t.module} ${t.outcome}`).join(', ')})`);
  if (c.verification) lines.push(`verified:  ${c.verification.ok ? 'passed' : 'FAILED'}`);
  if (c.baseFacts) lines.push(`base:      ${c.baseFacts.os?.prettyName ?? c.baseFacts.os?.id ?? '?'}, ${c.baseFacts.architecture ?? '?'}, ${plural(packages.length, 'package')}${withPackages || packages.length === 0 ? '' : ' (--packages lists them)'}`);
  if (withPackages) lines.push(...packages.map((p) => `  ${p.name}${p.version ? ` ${p.version}` : ''}`));
  const other = Object.keys(c).filter((k) => !['usageVector', 'plan', 'vmSpec', 'baseFacts', 'model', 'timings', 'verification'].includes(k));
  if (other.length) lines.push(`also:      ${other.join(', ')} (see --json)`);
  return lines.join('\n');
}
