import { z } from 'zod';
import { clientIdPattern, clientIdRule } from '../contracts/identifiers.js';
import { imageDigestSchema } from '../contracts/identifiers.js';
import type { SeedFile } from '../pipeline/spec/cloud-init.js';
import { agentEnvPath } from './agent-files.js';

/**
 * What the in-guest agent needs to report, delivered only through the per-request cloud-init
 * seed (never a layer: the credential is this client's and the image version is this request's).
 * `url` is the server as the guest reaches it: under QEMU user-mode networking, a `guestfwd` to
 * the host's loopback (`http://10.0.2.100`).
 */
export const agentSeedSchema = z.strictObject({
  url: z.string().regex(/^https?:\/\/[A-Za-z0-9.:-]+(\/[A-Za-z0-9._/-]*)?$/, 'expected an http(s) URL without credentials, query or fragment'),
  clientId: z.string().regex(clientIdPattern, clientIdRule),
  image: imageDigestSchema,
  /** `username:secret` of a credential that may only write this client's telemetry. */
  credential: z.string().regex(/^[A-Za-z0-9._/-]{1,128}:[A-Za-z0-9_-]{16,256}$/, 'expected username:secret'),
});
export type AgentSeed = z.infer<typeof agentSeedSchema>;

/** The agent's environment file, as systemd's EnvironmentFile reads it. */
export function agentEnvironment(input: AgentSeed): string {
  const s = agentSeedSchema.parse(input);
  return [`PRESCIENT_URL=${s.url.replace(/\/+$/, '')}`, `PRESCIENT_SUBJECT=client:${s.clientId}`, `PRESCIENT_IMAGE=${s.image}`, `PRESCIENT_CREDENTIAL=${s.credential}`, ''].join('\n');
}

/** The seed file that writes it, root-only, at first boot. */
export function agentSeedFile(input: AgentSeed): SeedFile {
  return { path: agentEnvPath, content: agentEnvironment(input), owner: 'root:root', permissions: '0600' };
}
