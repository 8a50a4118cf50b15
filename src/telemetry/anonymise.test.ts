import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAnonymiser, programName, scrubText } from './anonymise.js';
import type { PseudonymKeyring } from './pseudonym-keys.js';

const ring = (...keys: string[]): PseudonymKeyring => ({ keys: keys.map((k, i) => ({ id: `k${i + 1}`, createdAt: '', key: Buffer.alloc(32, k) })) });

test('pseudonyms are keyed, stable and tell the kind', () => {
  const a = createAnonymiser({ keyring: ring('a') });
  const b = createAnonymiser({ keyring: ring('b') });
  assert.equal(a.pseudonym('vm', 'web-1'), a.pseudonym('vm', 'web-1'));
  assert.notEqual(a.pseudonym('vm', 'web-1'), b.pseudonym('vm', 'web-1'));
  assert.notEqual(a.pseudonym('vm', 'x'), a.pseudonym('user', 'x'));
  assert.match(a.pseudonym('user', 'alice'), /^u_[A-Za-z0-9_-]{22}$/);
  assert.match(a.pseudonym('vm', 'alice'), /^v_/);
  const rotated = createAnonymiser({ keyring: ring('b', 'a') });
  assert.deepEqual(rotated.pseudonymsUnderAllKeys('vm', 'web-1'), [b.pseudonym('vm', 'web-1'), a.pseudonym('vm', 'web-1')]);
});

test('scrubText removes e-mail addresses, credentials, home directories and cuts IP addresses', () => {
  assert.equal(scrubText('mail alice.smith+x@example.co.uk now'), 'mail <email> now');
  assert.equal(scrubText('git clone https://bob:s3cret@git.example.org/x.git'), 'git clone https://git.example.org/x.git');
  assert.equal(scrubText('/home/alice/data/x.csv'), '/home/<user>/data/x.csv');
  assert.equal(scrubText('/Users/bob/x'), '/Users/<user>/x');
  assert.equal(scrubText('C:\\Users\\carol\\Documents'), 'C:\\Users\\<user>\\Documents');
  assert.equal(scrubText('cd ~dave/src'), 'cd ~<user>/src');
  assert.equal(scrubText('from 192.168.17.42 port 22'), 'from 192.168.17.0/24 port 22');
  assert.equal(scrubText('net 10.1.2.3/8'), 'net 10.0.0.0/8');
  assert.equal(scrubText('host 2001:db8:abcd:12::7 ok'), 'host 2001:db8:abcd::/48 ok');
  assert.equal(scrubText('[fe80::1%eth0]:22'), '[fe80::/48]:22');
  assert.equal(scrubText('::ffff:10.9.8.7'), '::/48');
  assert.equal(scrubText('at 12:30:45, version 1.2.3'), 'at 12:30:45, version 1.2.3');
  assert.equal(scrubText('999.1.1.1'), '999.1.1.1');
  assert.equal(scrubText('ip 192.168.17.42', 0), 'ip <ip>');
  assert.equal(scrubText('ip 192.168.17.42', 16), 'ip 192.168.0.0/16');
});

test('a command keeps only its program name', () => {
  assert.equal(programName('/usr/bin/ssh -i /home/alice/.ssh/id alice@10.0.0.1'), 'ssh');
  assert.equal(programName('LANG=C FOO=bar grep -r secret /home/alice'), 'grep');
  assert.equal(programName('  vim  '), 'vim');
  assert.equal(programName('C:\\Tools\\putty.exe host'), 'putty.exe');
});

test('anonymise replaces identifiers and scrubs every text field of every kind', () => {
  const a = createAnonymiser({ keyring: ring('k') });
  const subject = { kind: 'vm' as const, id: 'alice-laptop' };
  const base = { time: 1, subject, source: 'app-log' as const };
  const launch = a.anonymise({ ...base, kind: 'launch', executable: '/home/alice/bin/tool --token x', user: 'alice', session: 'tty1' });
  assert.deepEqual(launch, {
    time: 1,
    subject: a.pseudonym('vm', 'alice-laptop'),
    subjectKind: 'vm',
    source: 'app-log',
    kind: 'launch',
    executable: '/home/<user>/bin/tool',
    user: a.pseudonym('user', 'alice'),
    session: a.pseudonym('session', 'tty1'),
  });
  const flow = a.anonymise({ ...base, kind: 'flow', direction: 'out', protocol: 'tcp', port: 443, remote: '203.0.113.9', bytes: 10 });
  assert.equal(flow.kind === 'flow' && flow.remote, '203.0.113.0/24');
  const access = a.anonymise({ ...base, kind: 'access', target: 's3://eve:pw@bucket/home/eve/data.csv?sig=eve@example.com', bytes: 1 });
  assert.equal(access.kind === 'access' && access.target, 's3://bucket/home/<user>/data.csv');
});
