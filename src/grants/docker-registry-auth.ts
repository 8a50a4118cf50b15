import { grantService, tokenIssuer } from './registry-token.js';

/**
 * The `auth:` section of a docker-registry (docker/distribution 2.x) configuration that makes it
 * accept Prescient's registry tokens: clients are sent to Prescient's token endpoint (`realm`),
 * and tokens are verified against Prescient's certificate (`prescient registry cert`).
 */
export function dockerRegistryAuthYaml(input: { realm: string; certificateFile: string }): string {
  return [
    'auth:',
    '  token:',
    `    realm: ${input.realm}`,
    `    service: ${grantService}`,
    `    issuer: ${tokenIssuer}`,
    `    rootcertbundle: ${input.certificateFile}`,
    '',
  ].join('\n');
}
