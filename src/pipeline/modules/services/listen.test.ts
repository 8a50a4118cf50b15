import assert from 'node:assert/strict';
import { test } from 'node:test';
import { oneServiceVector } from '../../../../test/support/service-vectors.js';
import { debianFacts } from '../../../../test/support/debian-facts.js';
import type { Change } from '../../change.js';
import { assemblePipeline, planPipeline, type PipelinePlan } from '../../plan.js';
import { machineSeed } from '../../spec/machine-seed.js';
import { seedFiles } from '../../spec/cloud-init.js';
import { parsePolicy, type Policy } from '../../../policy/policy.js';

const facts = debianFacts(['openssh-server', 'cloud-init']);

function plan(service: string, pkg: string, inbound: number[], policy?: Policy): PipelinePlan {
  return planPipeline({ pipeline: assemblePipeline(), vector: oneServiceVector({ service, pkg, inbound }), facts, sources: new Map(), ...(policy ? { policy } : {}) });
}
const changes = (pl: PipelinePlan): Change[] => pl.modules.flatMap((m) => m.changes);
function file(pl: PipelinePlan, path: string): string {
  const c = changes(pl).find((x) => x.kind === 'write-file' && x.path === path);
  assert.ok(c && c.kind === 'write-file', `${path} is written`);
  return c.content;
}
function firewallPorts(pl: PipelinePlan): number[] {
  const m = /tcp dport \{ ([\d, ]+) \}/.exec(file(pl, '/etc/nftables.conf'));
  return m ? m[1]!.split(', ').map(Number) : [];
}

const services = [
  { service: 'nginx', pkg: 'nginx', port: 80, path: '/etc/nginx/sites-available/default', open: /listen 80 default_server;/, closed: /listen 127\.0\.0\.1:80 default_server;/ },
  { service: 'postgresql', pkg: 'postgresql', port: 5432, path: '/etc/postgresql/15/main/conf.d/80-prescient-access.conf', open: /^listen_addresses = '\*'$/m, closed: /^listen_addresses = 'localhost'$/m },
  { service: 'redis-server', pkg: 'redis-server', port: 6379, path: '/etc/redis/prescient-access.conf', open: /^bind \* -::\*$/m, closed: /^bind 127\.0\.0\.1 -::1$/m },
  { service: 'mariadb', pkg: 'mariadb-server', port: 3306, path: '/etc/mysql/mariadb.conf.d/80-prescient-access.cnf', open: /^bind-address = 0\.0\.0\.0$/m, closed: /^bind-address = 127\.0\.0\.1$/m },
  { service: 'memcached', pkg: 'memcached', port: 11211, path: '/etc/memcached.conf', open: /^-l 0\.0\.0\.0$/m, closed: /^-l 127\.0\.0\.1$/m },
];

for (const s of services) {
  test(`${s.service}: everywhere and opened when its port is inbound; loopback and closed when not`, () => {
    const opened = plan(s.service, s.pkg, [22, s.port]);
    assert.match(file(opened, s.path), s.open);
    assert.deepEqual(firewallPorts(opened), [22, s.port]);
    const closed = plan(s.service, s.pkg, [22]);
    assert.match(file(closed, s.path), s.closed);
    assert.doesNotMatch(file(closed, s.path), s.open);
    assert.deepEqual(firewallPorts(closed), [22], 'a listener the vector did not open stays closed');
  });
}

test('a predicted port no prepared service answers is left closed, and the plan says so', () => {
  // The admin allows 8080 and 443 inbound, but nothing here answers them.
  const policy = parsePolicy({ inbound: { allow: [{ port: 8080, protocol: 'tcp' }, { port: 443, protocol: 'tcp' }] } });
  const pl = plan('redis-server', 'redis-server', [22, 6379, 8080, 443], policy);
  assert.deepEqual(firewallPorts(pl), [22, 6379]);
  const notes = pl.modules.find((m) => m.id === 'network')!.notes;
  assert.ok(notes.some((n) => n.startsWith('warning: port 8080/tcp')), notes.join('; '));
  assert.ok(notes.some((n) => n.startsWith('warning: port 443/tcp')), notes.join('; '));
});

test('configuration files are readable by the services\' users, and no layer holds a password', () => {
  for (const s of services) {
    const pl = plan(s.service, s.pkg, [s.port]);
    for (const c of changes(pl)) if (c.kind === 'write-file' && c.path.startsWith('/etc/')) assert.ok(c.mode === undefined || (c.mode & 0o004) !== 0, `${c.path} is world-readable (it holds no secret)`);
    const { credentials } = machineSeed({ plan: pl, facts, subject: { clientId: 'c1' }, versionKey: 'k'.repeat(64) });
    const text = JSON.stringify(pl);
    for (const cred of credentials.services) assert.ok(!text.includes(cred.password), `${s.service}'s password is not in the plan (so in no layer)`);
  }
});

test('the seed: a password per protected service and machine, the client\'s user with its keys, hostname and instance id per client and version', () => {
  const pl = plan('redis-server', 'redis-server', [22, 6379]);
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop';
  const a = machineSeed({ plan: pl, facts, subject: { clientId: 'Acme_1' }, versionKey: 'a'.repeat(64), login: { user: 'alice', sshAuthorizedKeys: [key] } });
  const b = machineSeed({ plan: pl, facts, subject: { clientId: 'Acme_1' }, versionKey: 'b'.repeat(64) });
  assert.equal(a.credentials.hostname, 'acme-1');
  assert.notEqual(a.credentials.instanceId, b.credentials.instanceId, 'a new version is a new instance');
  const [ra, rb] = [a.credentials.services[0]!, b.credentials.services[0]!];
  assert.equal(ra.service, 'redis');
  assert.match(ra.password, /^[0-9a-f]{32}$/);
  assert.notEqual(ra.password, rb.password, 'every machine gets its own password');
  const files = seedFiles(a.seed);
  assert.match(files['meta-data'], /^instance-id: "acme-1-a{16}"$/m);
  const config = JSON.parse(files['user-data'].replace(/^#cloud-config\n/, '')) as Record<string, any>;
  assert.equal(config.hostname, 'acme-1');
  assert.equal(config.ssh_pwauth, false);
  assert.equal(config.disable_root, true);
  assert.deepEqual(config.users[0].ssh_authorized_keys, [key]);
  assert.equal(config.users[0].lock_passwd, true);
  assert.deepEqual(config.write_files, [{ path: '/etc/redis/prescient.d/auth.conf', content: `requirepass ${ra.password}\n`, owner: 'redis:redis', permissions: '0640' }]);
});

test('the seed refuses what is not a public key, a system account, or a path outside the guest, naming the field', () => {
  const base = { instanceId: 'i', hostname: 'h' };
  assert.throws(() => seedFiles({ ...base, login: { user: 'alice', sshAuthorizedKeys: ['-----BEGIN OPENSSH PRIVATE KEY-----'] } }), /login\.sshAuthorizedKeys\[0\]: not an OpenSSH public key/);
  assert.throws(() => seedFiles({ ...base, login: { user: 'root', sshAuthorizedKeys: ['ssh-ed25519 AAAA'] } }), /login\.user/);
  assert.throws(() => seedFiles({ ...base, login: { user: 'alice', sshAuthorizedKeys: ['ssh-ed25519 AAAA\nrm -rf /'] } }), /login\.sshAuthorizedKeys\[0\]/);
  assert.throws(() => seedFiles({ ...base, files: [{ path: '/etc/../root/x', content: '', owner: 'root:root', permissions: '0600' }] }), /files\[0\]\.path/);
  assert.throws(() => seedFiles({ ...base, files: [{ path: '/etc/x', content: '', owner: 'root; reboot', permissions: '0600' }] }), /files\[0\]\.owner/);
});

test('memcached needs the seed\'s password only where its port is opened inbound (ASCII auth); on loopback it has none', () => {
  const opened = plan('memcached', 'memcached', [22, 11211]);
  assert.match(file(opened, '/etc/memcached.conf'), /^-Y \/etc\/memcached\/prescient-auth$/m);
  const a = machineSeed({ plan: opened, facts, subject: { clientId: 'c1' }, versionKey: 'k'.repeat(64) });
  const cred = a.credentials.services.find((c) => c.service === 'memcached');
  assert.ok(cred, JSON.stringify(a.credentials));
  assert.deepEqual((a.seed.files ?? []).filter((f) => f.path === '/etc/memcached/prescient-auth'), [{ path: '/etc/memcached/prescient-auth', content: `prescient:${cred.password}\n`, owner: 'memcache:memcache', permissions: '0600' }]);
  assert.ok(changes(opened).some((c) => c.kind === 'write-file' && c.path === '/etc/systemd/system/memcached.service.d/50-prescient-after-seed.conf'), 'it starts after the seed wrote its password');
  const closed = plan('memcached', 'memcached', [22]);
  assert.doesNotMatch(file(closed, '/etc/memcached.conf'), /^-Y /m);
  const b = machineSeed({ plan: closed, facts, subject: { clientId: 'c1' }, versionKey: 'k'.repeat(64) });
  assert.deepEqual(b.credentials.services, []);
  assert.deepEqual(b.seed.files, []);
});
