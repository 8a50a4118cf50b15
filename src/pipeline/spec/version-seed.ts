import { writePrivateFile } from '../../core/private-file.js';
import { join } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import type { ImageFacts } from '../../image/facts.js';
import type { Registry } from '../../registry/registry.js';
import type { UsageVector } from '../../contracts/usage-vector.js';
import type { PipelinePlan } from '../plan.js';
import { writeSeed, type SeedFile, type SeedInput, type SeedLogin } from './cloud-init.js';
import { machineSeed, type MachineCredentials } from './machine-seed.js';

/**
 * What a version's seed is made from, out of its provenance config: its plan, its base facts
 * and its vector's subject. Immutable per digest, so a caller that hands out many seeds of one
 * version (`serve`) reads it once and keeps it.
 */
export interface VersionProvenance {
  plan: PipelinePlan;
  facts: ImageFacts;
  subject: UsageVector['subject'];
  /** The manifest digest's hex (the instance id's version part). */
  versionKey: string;
}

export function versionProvenance(shown: { digest: string; config: Record<string, unknown> }, reference: string): VersionProvenance {
  const plan = shown.config['plan'] as PipelinePlan | undefined;
  const facts = shown.config['baseFacts'] as ImageFacts | undefined;
  const vector = shown.config['usageVector'] as UsageVector | undefined;
  if (!plan?.modules || !facts?.packages || !vector?.subject) throw new ValidationError('reference', `${reference} carries no Prescient plan, base facts and vector in its provenance`);
  return { plan, facts, subject: vector.subject, versionKey: shown.digest.slice('sha256:'.length) };
}

/**
 * A machine's seed for a version already in the registry (what `serve` hands out): its plan and
 * base facts come from the version's provenance, so the passwords are made for the protected
 * services that version enables. A new call is a new machine: new passwords, and the instance id
 * of this client and version.
 */
export async function versionSeed(input: {
  registry: Pick<Registry, 'show'>;
  reference: string;
  login?: SeedLogin;
  extraFiles?: readonly SeedFile[];
}): Promise<{ seed: SeedInput; credentials: MachineCredentials }> {
  return seedOfVersion(versionProvenance(await input.registry.show(input.reference), input.reference), input);
}

/** {@link versionSeed} from a provenance already read: fresh passwords each call. */
export function seedOfVersion(provenance: VersionProvenance, input: { login?: SeedLogin; extraFiles?: readonly SeedFile[] } = {}): { seed: SeedInput; credentials: MachineCredentials } {
  return machineSeed({
    ...provenance,
    ...(input.login ? { login: input.login } : {}),
    ...(input.extraFiles ? { extraFiles: input.extraFiles } : {}),
  });
}

/** {@link versionSeed}, written: `cloud-init/`, `cloud-init.iso` and `credentials.json` (0600). */
export async function writeVersionSeed(input: {
  registry: Registry;
  reference: string;
  outDir: string;
  login?: SeedLogin;
  extraFiles?: readonly SeedFile[];
}): Promise<{ seedDir: string; seedIso?: string; credentialsFile: string; credentials: MachineCredentials }> {
  const { seed, credentials } = await versionSeed(input);
  const written = await writeSeed(join(input.outDir, 'cloud-init'), seed);
  const credentialsFile = join(input.outDir, 'credentials.json');
  await writePrivateFile(credentialsFile, `${JSON.stringify(credentials, null, 2)}\n`);
  return { seedDir: written.dir, ...(written.iso ? { seedIso: written.iso } : {}), credentialsFile, credentials };
}
