import { createHmac } from 'node:crypto';
import { checkClientId } from '../contracts/identifiers.js';
import { NotFoundError } from '../core/errors.js';
import type { Credentials } from './credentials.js';
import { loadOrCreateSecret } from './signing-key.js';

/** The source name of a client's in-guest agent: one per client, shared by all its delivered versions. */
export function agentSourceName(clientId: string): string {
  return `agent-${clientId}`;
}

/**
 * The telemetry-only credential of a client's in-guest agents (delivered in each image's
 * per-request seed, never in a shared layer): a source credential that may write telemetry
 * about `client:<clientId>` and the extra subjects given (e.g. `vm:<hostname>`), and do nothing
 * else: no pull, no request, no token. It is stable: asking again (a new request, a new version)
 * gives the same credential, so a machine delivered earlier keeps reporting; its secret is an
 * HMAC of the client and the credential's creation time under `<secrets>/agent-credential.key`,
 * so only its hash is stored. It ends with the client's in-guest consent
 * ({@link revokeAgentCredential}); the next one after that is new. Username
 * `source/agent-<clientId>`; sent as HTTP Basic to `POST /v1/telemetry` or `/v1/metrics`.
 */
export async function agentCredential(input: { credentials: Credentials; secretsDir: string; clientId: string; extraSubjects?: readonly string[] }): Promise<{ username: string; secret: string; subjects: string[] }> {
  checkClientId(input.clientId);
  const key = await loadOrCreateSecret(input.secretsDir, 'agent-credential.key');
  const secretOf = (createdAt: string): string => createHmac('sha256', key).update(`prescient agent credential\n${input.clientId}\n${createdAt}`).digest('base64url');
  const c = await input.credentials.ensureSource(agentSourceName(input.clientId), [`client:${input.clientId}`, ...(input.extraSubjects ?? [])], secretOf);
  return { username: c.username, secret: c.secret, subjects: c.subjects };
}

/**
 * Ends the client's agent credential (in-guest consent withdrawn): every machine's next report
 * is refused (401) and the agent deletes its spool and stops. False when there was none.
 */
export async function revokeAgentCredential(input: { credentials: Credentials; clientId: string }): Promise<boolean> {
  checkClientId(input.clientId);
  try {
    await input.credentials.revoke(`source/${agentSourceName(input.clientId)}`);
    return true;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
}
