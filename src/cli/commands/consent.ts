import { existsSync } from 'node:fs';
import { paths } from '../../core/config.js';
import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { subjectSchema, type Subject } from '../../contracts/telemetry-event.js';
import { openPrescient } from '../../app/open-prescient.js';
import { revokeAgentCredential } from '../../grants/agent-credential.js';
import { emit, table } from '../output.js';
import type { CommandRegistration } from './command-registration.js';

export const consentCommand: CommandRegistration = (program) => {
  const consent = program
    .command('consent')
    .description('record, withdraw and list consent for telemetry from inside guests (source: agent)')
    .addHelpText(
      'after',
      `
In-guest data is stored only for subjects who opted in. Consent is kept against the subject's
pseudonym, never its identifier. Revoking deletes every in-guest record of that subject.

Examples:
  prescient consent grant vm:web-17
  prescient consent revoke user:alice
  prescient consent ls --json`,
    );

  consent
    .command('grant')
    .description('record that a subject opted in to in-guest telemetry')
    .argument('<subject>', 'KIND:ID, where KIND is user, client or vm')
    .action(async (subject: string, _opts: unknown, command: Command) => {
      const ingestion = await (await openPrescient()).ingestion();
      try {
        const r = await ingestion.consent.grant(parseSubject(subject));
        emit(command, { granted: true, pseudonym: r.pseudonym }, (v) => `consent recorded for ${v.pseudonym}`);
      } finally {
        await ingestion.close();
      }
    });

  consent
    .command('revoke')
    .description("withdraw a subject's consent and delete its in-guest data")
    .argument('<subject>', 'KIND:ID, where KIND is user, client or vm')
    .action(async (subject: string, _opts: unknown, command: Command) => {
      const prescient = await openPrescient();
      const ingestion = await prescient.ingestion();
      try {
        const parsed = parseSubject(subject);
        const r = await ingestion.consent.revoke(parsed);
        // A client's in-guest agents lose their credential with the consent: every delivered
        // machine's next report is refused, and the agent stops.
        const agentRevoked = parsed.kind === 'client' && (await revokeAgentCredential({ credentials: (await prescient.grants()).credentials, clientId: parsed.id }));
        emit(command, { revoked: true, pseudonym: r.pseudonym, deletedRecords: r.deleted, agentCredentialRevoked: agentRevoked }, (v) => `consent withdrawn for ${v.pseudonym}; ${v.deletedRecords} in-guest records deleted${v.agentCredentialRevoked ? "; the agent's credential revoked" : ''}`);
      } finally {
        await ingestion.close();
      }
    });

  consent
    .command('ls')
    .description('list the pseudonyms with consent, and how many records were refused for want of it')
    .action(async (_opts: unknown, command: Command) => {
      // Listing creates nothing: without a store nothing was granted or refused yet.
      if (!existsSync(paths().store)) return emit(command, { granted: [], refusedForWantOfConsent: 0 }, () => 'no consent recorded (no telemetry store yet)');
      const ingestion = await (await openPrescient()).ingestion();
      try {
        const granted = await ingestion.consent.list();
        const refused = (await ingestion.store.rejections()).filter((r) => r.reason === 'no-consent').reduce((n, r) => n + r.count, 0);
        emit(command, { granted, refusedForWantOfConsent: refused }, (v) =>
          [
            v.granted.length ? table(v.granted.map((g) => [g.pseudonym, new Date(g.grantedAtMs).toISOString()]), ['PSEUDONYM', 'GRANTED']) : 'no consent recorded',
            `${v.refusedForWantOfConsent} in-guest records refused for want of consent so far`,
          ].join('\n'),
        );
      } finally {
        await ingestion.close();
      }
    });
};

function parseSubject(s: string): Subject {
  const r = subjectSchema.safeParse(s);
  if (!r.success) throw new ValidationError('<subject>', 'expected KIND:ID with KIND user, client or vm');
  return r.data;
}
