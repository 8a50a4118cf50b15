import { ValidationError } from '../core/errors.js';
import { checkClientId, clientIdPattern } from '../contracts/identifiers.js';
import { type IdentifyConfig, type IdentifyRule } from './rules.js';

export interface IdentifyRequest {
  account?: string | undefined;
  /** A client id asked for directly (an admin or a client that knows its id). */
  clientId?: string | undefined;
  parameters?: Record<string, string> | undefined;
}

export interface Identity {
  clientId: string;
  category: string;
  /** Which rule decided (`rules[3]`), or `fallback` for a client no rule recognised. */
  matchedBy: string;
}

/**
 * An account name as a client id: lowercased, every run of other characters one `-`.
 * `Alice@Example.com` → `alice-example-com`.
 */
export function clientIdFromAccount(account: string): string {
  const id = account.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64).replace(/-+$/, '');
  if (!clientIdPattern.test(id)) throw new ValidationError('account', `cannot derive a client id from ${JSON.stringify(account)}`);
  return id;
}

/** Request → client id and category, by the first matching rule; an unknown client gets the fallback category. */
export function identify(config: IdentifyConfig, request: IdentifyRequest): Identity {
  if (request.clientId !== undefined) checkClientId(request.clientId);
  if (request.account === undefined && request.clientId === undefined) throw new ValidationError('account', 'an account or a clientId is needed');
  const parameters = request.parameters ?? {};
  const defaultId = (): string => request.clientId ?? clientIdFromAccount(request.account!);
  for (const [i, rule] of config.rules.entries()) {
    const decided = apply(rule, request, parameters, defaultId);
    if (decided) return { ...decided, matchedBy: `rules[${i}]` };
  }
  return { clientId: defaultId(), category: config.fallbackCategory, matchedBy: 'fallback' };
}

function apply(
  rule: IdentifyRule,
  request: IdentifyRequest,
  parameters: Record<string, string>,
  defaultId: () => string,
): { clientId: string; category: string } | undefined {
  switch (rule.kind) {
    case 'account':
      // A request naming another client id is not this account's: the grant follows the rule, not the request.
      return request.account === rule.account ? { clientId: rule.clientId, category: rule.category } : undefined;
    case 'parameters':
      return Object.entries(rule.match).every(([k, v]) => parameters[k] === v) ? { clientId: defaultId(), category: rule.category } : undefined;
    case 'pattern': {
      const value = rule.field === 'account' ? request.account : parameters[rule.field.slice('parameters.'.length)];
      if (value === undefined) return undefined;
      const m = new RegExp(rule.regex).exec(value);
      if (!m) return undefined;
      if (rule.clientId === undefined) return { clientId: defaultId(), category: rule.category };
      const groups = m.groups ?? {};
      const id = rule.clientId.replace(/\$<([A-Za-z_][A-Za-z0-9_]*)>/g, (_all, name: string) => groups[name] ?? '').toLowerCase();
      if (!clientIdPattern.test(id)) throw new ValidationError('clientId', `pattern rule produced an invalid client id ${JSON.stringify(id)}`);
      return { clientId: id, category: rule.category };
    }
  }
}
