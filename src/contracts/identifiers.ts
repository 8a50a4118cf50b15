import { z } from 'zod';
import { digestForm, digestPattern } from '../core/digest.js';
import { ValidationError } from '../core/errors.js';

/**
 * A client id is one path component of its repository (`clients/<clientId>`), so it follows the
 * OCI name component grammar: lowercase alphanumerics joined by single separators.
 */
export const clientIdPattern = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
/** What a client id (and a name of the same grammar) may be, as an error says it. */
export const clientIdRule = 'lowercase letters, digits and single . _ - between them';
/** The longest client id: one rule for the schema and checkClientId. */
export const clientIdMaxLength = 64;
export const clientIdSchema = z.string().max(clientIdMaxLength).regex(clientIdPattern, clientIdRule);

/** `value` when it is a client id (clientIdSchema's rule); otherwise a ValidationError naming `field`. */
export function checkClientId(value: string, field = 'clientId'): string {
  if (value.length > clientIdMaxLength) throw new ValidationError(field, `at most ${clientIdMaxLength} characters`);
  if (!clientIdPattern.test(value)) throw new ValidationError(field, clientIdRule);
  return value;
}

/** The repository a client's images live in; its grants open only this one. */
export function clientRepository(clientId: string): string {
  return `clients/${clientId}`;
}

/** The OCI distribution grammar for repository names: lowercase path components. */
export const repositoryPattern = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

export function isRepositoryName(name: string): boolean {
  return name.length <= 255 && repositoryPattern.test(name);
}

/**
 * An image version's digest: what the registry names a manifest by, in every algorithm the
 * registry takes (sha256, or sha512 for what a client pushed with it): core/digest's one rule.
 */
export const imageDigestSchema = z.string().regex(digestPattern, `expected an image digest: ${digestForm}`);
