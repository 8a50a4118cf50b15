import type { Command } from 'commander';
import { checkClientId } from '../../contracts/identifiers.js';
import { paths } from '../../core/config.js';
import { Credentials } from '../../grants/credentials.js';
import { emit, table } from '../output.js';
import type { CommandRegistration } from './command-registration.js';

// No default: a missing --subject is commander's usage error, which names the option.
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export const credentialsCommand: CommandRegistration = (program: Command) => {
  const credentials = program
    .command('credentials')
    .description('client, source and admin credentials for `prescient serve` (kept hashed under <home>/secrets, mode 0600)')
    .addHelpText(
      'after',
      `
Who may do what (every route's scope: curl http://127.0.0.1:5080/v1/routes):
  admin            everything
  client ID        pull clients/ID (token flow), request its own images, read its own vectors,
                   write telemetry about client:ID only
  source/NAME      write telemetry about the subjects it was issued for, nothing else
                   (a hypervisor exporter, a scraper, an in-guest agent)
Credentials are HTTP Basic (username:secret); a bearer token from /v1/token only pulls from /v2/.
Issuing a credential again, or revoking it, ends its live tokens at once.
`,
    );
  credentials
    .command('issue')
    .description("create or replace a client's credential; the secret is printed once and stored only hashed")
    .argument('<clientId>', 'the client; it may pull clients/<clientId> and nothing else')
    .addHelpText('after', '\nExamples:\n  prescient credentials issue acme\n  skopeo copy --src-tls-verify=false --src-creds acme:<secret> docker://127.0.0.1:5080/clients/acme:latest oci:/tmp/acme:latest\n')
    .action(async (clientId: string, _options: unknown, cmd: Command) => {
      checkClientId(clientId, '<clientId>');
      const store = await Credentials.open(paths().secrets);
      emit(cmd, await store.issue(clientId), (c) => `username: ${c.username}\nsecret:   ${c.secret}\n(shown once: keep it)`);
    });
  credentials
    .command('issue-source')
    .description('create or replace a telemetry source credential: it writes telemetry about the given subjects only, and can do nothing else')
    .argument('<name>', 'the source (lowercase letters, digits, . _ -); its username is source/<name>')
    .requiredOption('-s, --subject <KIND:ID>', 'a subject it may write about: client:ID, vm:ID or user:ID (repeat for more)', collect)
    .addHelpText(
      'after',
      `
Examples:
  prescient credentials issue-source hv-exporter --subject vm:web-1 --subject vm:web-2
  prescient credentials issue-source webshop-scraper --subject client:webshop --json
  curl -u source/hv-exporter:<secret> -H 'content-type: application/x-ndjson' \\
    --data-binary @events.ndjson http://127.0.0.1:5080/v1/telemetry
An event about any other subject makes the whole body answer 403 (nothing of it is stored).
`,
    )
    .action(async (name: string, options: { subject: string[] }, cmd: Command) => {
      const store = await Credentials.open(paths().secrets);
      emit(cmd, await store.issueSource(name, options.subject), (c) => `username: ${c.username}\nsecret:   ${c.secret}\nsubjects: ${c.subjects.join(', ')}\n(shown once: keep it)`);
    });
  credentials
    .command('revoke')
    .description('remove a client credential (ID) or a source credential (source/NAME): its secret and its live tokens stop working')
    .argument('<username>', 'a client id, or source/<name>')
    .action(async (username: string, _options: unknown, cmd: Command) => {
      const store = await Credentials.open(paths().secrets);
      await store.revoke(username);
      emit(cmd, { revoked: username }, (r) => `revoked ${r.revoked}`);
    });
  credentials
    .command('ls')
    .description('who holds a credential (no secrets)')
    .action(async (_options: unknown, cmd: Command) => {
      const store = await Credentials.open(paths().secrets);
      const l = store.list();
      emit(cmd, l, (v) =>
        table(
          [...v.clients.map((c) => ['client', c.username, c.createdAt, '']), ...v.sources.map((s) => ['source', s.username, s.createdAt, s.subjects.join(' ')])],
          ['kind', 'username', 'created', 'subjects'],
        ),
      );
    });
  credentials
    .command('admin')
    .description('print the admin credential (generated once; anyone who can read <home>/secrets is the admin)')
    .action(async (_options: unknown, cmd: Command) => {
      const store = await Credentials.open(paths().secrets);
      emit(cmd, store.admin, (a) => `username: ${a.username}\nsecret:   ${a.secret}`);
    });
};
