import { clientIdPattern } from '../contracts/identifiers.js';
import { ValidationError } from '../core/errors.js';
import type { Credentials } from './credentials.js';

/** The source name of a client's in-guest agent: one per client, so re-issuing it ends the old one's access. */
export function agentSourceName(clientId: string): string {
  return `agent-${clientId}`;
}

/**
 * A telemetry-only credential for the in-guest agent of a client's image (delivered in the
 * image's per-request seed, never in a shared layer): a source credential that may write
 * telemetry about `client:<clientId>` and the extra subjects given (e.g. `vm:<hostname>`), and
 * do nothing else: no pull, no request, no token. Issuing it again replaces (and so revokes)
 * the previous one. Username `source/agent-<clientId>`; send it as HTTP Basic to
 * `POST /v1/telemetry` or `/v1/metrics`.
 */
export async function issueAgentCredential(input: { credentials: Credentials; clientId: string; extraSubjects?: readonly string[] }): Promise<{ username: string; secret: string; subjects: string[] }> {
  if (!clientIdPattern.test(input.clientId)) throw new ValidationError('clientId', 'lowercase letters, digits and single . _ - between them');
  return input.credentials.issueSource(agentSourceName(input.clientId), [`client:${input.clientId}`, ...(input.extraSubjects ?? [])]);
}
