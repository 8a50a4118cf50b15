import type { ConsentRecord, TelemetryStore } from '../store/store.js';
import type { Anonymiser } from './anonymise.js';
import type { Subject } from '../contracts/telemetry-event.js';

/**
 * Consent for in-guest telemetry. It is recorded against the subject's pseudonyms (under every
 * key of the keyring), never against the identifier itself; the store refuses agent events of
 * subjects without it. Withdrawal deletes everything that subject's guest agents sent.
 */
export interface Consent {
  grant(subject: Subject): Promise<{ pseudonym: string }>;
  revoke(subject: Subject): Promise<{ pseudonym: string; deleted: number }>;
  list(): Promise<ConsentRecord[]>;
}

export function createConsent(deps: { store: TelemetryStore; anonymiser: Anonymiser; now?: () => number }): Consent {
  const now = deps.now ?? Date.now;
  return {
    async grant(subject) {
      const all = deps.anonymiser.pseudonymsUnderAllKeys(subject.kind, subject.id);
      await deps.store.grantConsent(all, now());
      return { pseudonym: all[0]! };
    },
    async revoke(subject) {
      const all = deps.anonymiser.pseudonymsUnderAllKeys(subject.kind, subject.id);
      const { deleted } = await deps.store.revokeConsent(all);
      return { pseudonym: all[0]!, deleted };
    },
    list: () => deps.store.consentedPseudonyms(),
  };
}
