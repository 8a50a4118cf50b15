import type { Digest } from '../core/digest.js';
import { toAppError } from '../core/errors.js';
import { agentSeedFile } from '../guest/agent-seed.js';
import { seedFiles, type SeedFile } from '../pipeline/spec/cloud-init.js';
import type { MachineCredentials } from '../pipeline/spec/machine-seed.js';
import { seedOfVersion } from '../pipeline/spec/version-seed.js';
import type { RequestResult } from './request-result.js';
import type { RequestWorkflowDeps } from './request-workflow-deps.js';
import type { VersionMemo } from './version-memo.js';

export interface RequestSeedInput {
  clientId: string;
  repository: string;
  /** The version handed out. */
  digest: Digest;
  /** Whether that version carries the agent (then the seed carries its credential). */
  agentInImage: boolean;
  deps: Pick<RequestWorkflowDeps, 'agent' | 'login'>;
  versions: VersionMemo;
  /** The shared registry's `latest` brought here, joined per repository (none: no shared registry). */
  syncShared?: ((repository: string) => Promise<unknown>) | undefined;
}

/**
 * The seed step: the per-request cloud-init seed and what the machine's user needs beside it —
 * the agent's file (with in-guest consent), the client's registered login and fresh passwords
 * for the protected services this version enables (from its provenance). Never in a layer.
 */
export async function requestSeed(input: RequestSeedInput): Promise<{ seed: RequestResult['seed']; credentials: MachineCredentials }> {
  const { clientId, repository, digest, deps } = input;
  const files: SeedFile[] = [];
  if (input.agentInImage && deps.agent) {
    const c = await deps.agent.issueCredential(clientId);
    files.push(agentSeedFile({ url: deps.agent.url, clientId, image: digest, credential: `${c.username}:${c.secret}` }));
  }
  const login = await deps.login?.(clientId);
  const seedOf = async () => seedOfVersion(await input.versions.seedProvenance(`${repository}@${digest}`), { ...(login ? { login } : {}), extraFiles: files });
  const machine = await seedOf().catch(async (e: unknown) => {
    // Built by a worker on another machine: the version is in the shared registry only; its
    // provenance (what the seed's passwords are made for) is brought here first.
    if (toAppError(e).code !== 'NOT_FOUND' || !input.syncShared) throw e;
    await input.syncShared(repository);
    return seedOf();
  });
  const instanceId = `${clientId}-${digest.slice('sha256:'.length, 'sha256:'.length + 16)}`;
  const hostname = clientId.replace(/[._]/g, '-').slice(0, 63).replace(/-+$/, '');
  const seed = seedFiles({ ...machine.seed, instanceId, hostname });
  const credentials: MachineCredentials = { ...machine.credentials, instanceId, hostname };
  return { seed, credentials };
}
