import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { paths } from '../core/config.js';
import { run } from '../core/exec.js';
import { withImageSession } from '../image/open.js';
import { personalize } from '../pipeline/personalize.js';
import { assemblePipeline } from '../pipeline/plan.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { createAnonymiser } from '../telemetry/anonymise.js';
import { loadOrCreateKeyring } from '../telemetry/pseudonym-keys.js';
import { debianBase, scratchDir, testPaths } from '../../test/support/images.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { webDbVector } from '../../test/support/vectors.js';
import { cliPath } from '../../test/support/repo.js';
import { assertNoGuestData } from '../../test/support/guest-store.js';

/**
 * The agent's shell, run as the image carries it, inside the image's root (chroot; no boot) and
 * against a real `prescient serve` on 127.0.0.1: what it reports lands in the store for the
 * seed's client and image version; offline it spools (bounded) and resends; after a revoke the
 * server refuses it and the agent deletes its spool and stops. Process accounting is fed a
 * pacct file in the kernel's own acct_v3 layout (turning accounting on in a chroot would turn it
 * on for the host), and the nftables SYN counters are left off (the chroot shares the host's
 * network namespace); the booted acceptance test covers both for real.
 */
const p = testPaths();
const canRun = process.getuid?.() === 0;
let work: Awaited<ReturnType<typeof scratchDir>>;
let disk: string;
let home: string;
let serve: ServeProcess;
/** The agent's telemetry-only credential (a source credential for client:acme). */
let credential = '';
const image = `sha256:${'ab'.repeat(32)}`;

function pacct(records: { comm: string; uid: number }[]): Buffer {
  // struct acct_v3 (linux/acct.h): 64 bytes, version 3.
  const out = Buffer.alloc(64 * records.length);
  records.forEach((r, i) => {
    const o = i * 64;
    out.writeUInt8(3, o + 1);
    out.writeUInt32LE(r.uid, o + 8);
    out.writeUInt32LE(r.uid, o + 12);
    out.writeUInt32LE(4242, o + 16);
    out.writeUInt32LE(Math.floor(Date.now() / 1000), o + 24);
    out.write(r.comm, o + 48, 16, 'latin1');
  });
  return out;
}

async function inGuest(script: string, env: Record<string, string>): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  return withImageSession(disk, { runtimeDir: p.runtime }, (s) =>
    s.exec(['bash', '-c', script], {
      allowFailure: true,
      // The host's network, to reach the test's server on 127.0.0.1 (a guest reaches it by guestfwd).
      network: true,
      timeoutMs: 120_000,
      env: { PRESCIENT_SUBJECT: 'client:acme', PRESCIENT_IMAGE: image, PRESCIENT_CREDENTIAL: credential, PRESCIENT_AGENT_NFT: 'off', PRESCIENT_AGENT_PACCT: '/tmp/pacct', ...env },
    }),
  );
}

before(async () => {
  if (!canRun) return;
  work = await scratchDir('prescient-agent-');
  const base = await debianBase();
  const report = await personalize({
    base,
    vector: webDbVector(),
    pipeline: assemblePipeline({ only: ['agent'], options: { agent: { enabled: true } } }),
    outDir: join(work.dir, 'out'),
    layersDir: p.layers,
    runtimeDir: p.runtime,
    packageCacheDir: p.packageCache,
  });
  disk = join(work.dir, 'guest.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', report.outputs.disk!, '-F', 'qcow2', disk]);
  home = await mkdtemp(join(tmpdir(), 'prescient-agent-home-'));
  serve = await startServe(home);
});

after(async () => {
  await serve?.stop();
  if (home) await rm(home, { recursive: true, force: true });
  await work?.remove();
});

test('the agent reports launches, missing commands, new packages, dataset reads and resources; spools offline; stops after a revoke', { skip: canRun ? false : 'needs root (loop mounts) to open the image' }, async () => {
  const env = { ...process.env, PRESCIENT_HOME: home };
  await promisify(execFile)(process.execPath, [cliPath, 'consent', 'grant', 'client:acme'], { env });
  const issued = JSON.parse((await promisify(execFile)(process.execPath, [cliPath, '--json', 'credentials', 'issue-source', 'agent-acme', '--subject', 'client:acme'], { env })).stdout) as { username: string; secret: string };
  credential = `${issued.username}:${issued.secret}`;
  const anon = createAnonymiser({ keyring: loadOrCreateKeyring(paths(home).secrets) });
  const subject = anon.pseudonym('client', 'acme');
  await writeFile(join(work.dir, 'pacct'), pacct([{ comm: 'psql', uid: 1000 }, { comm: 'bad name!', uid: 1000 }, { comm: 'redis-cli', uid: 0 }]));

  // Offline: three reports, at most two kept.
  const offline = await inGuest(
    `set -e
     : > /tmp/pacct  # accounting on, nothing recorded yet: the first run's baseline
     mkdir -p /var/lib/prescient /srv && echo '[{"destination": "/srv/placed.csv"}]' > /var/lib/prescient/datasets.json && echo a,b > /srv/placed.csv
     for i in 1 2 3; do /usr/lib/prescient-agent/prepare; /usr/lib/prescient-agent/collect; sleep 1; done
     ls /var/lib/prescient-agent/spool | grep -c ndjson`,
    { PRESCIENT_URL: 'http://127.0.0.1:9', PRESCIENT_AGENT_MAX_FILES: '2' },
  );
  assert.equal(offline.exitCode, 0, offline.stderr);
  assert.equal(offline.stdout.trim(), '2', 'the spool keeps at most PRESCIENT_AGENT_MAX_FILES reports');
  assert.match(offline.stderr, /stays spooled/);

  // Online, after some use: every spooled report is sent, then the spool is empty.
  const pacctB64 = (await import('node:fs')).readFileSync(join(work.dir, 'pacct')).toString('base64');
  const online = await inGuest(
    `set -e
     echo ${pacctB64} | base64 -d > /tmp/pacct
     bash -ic 'no-such-prog --secret-arg' 2>/dev/null || true
     echo "2026-12-01 08:10:00 install sl:amd64 <none> 5.02-1" >> /var/log/dpkg.log
     cat /srv/placed.csv > /dev/null
     /usr/lib/prescient-agent/prepare; /usr/lib/prescient-agent/collect
     ls /var/lib/prescient-agent/spool | grep -c ndjson || true`,
    { PRESCIENT_URL: serve.url },
  );
  assert.equal(online.exitCode, 0, online.stderr);
  assert.equal(online.stdout.trim(), '0', `spool not emptied: ${online.stderr}`);

  const store = openSqliteStore({ file: paths(home).store });
  try {
    assert.deepEqual((await store.guestImages(subject)).map((s) => s.image), [image]);
    const a = await store.guestActivity(subject);
    assert.deepEqual(
      a.programs.map((x) => [x.kind, x.name, x.outcome]),
      [
        ['command', 'no-such-prog', 'not-found'],
        ['launch', 'psql', null],
      ],
      'root-run redis-cli is the agent itself (same uid) and is left out; a name with a blank is dropped',
    );
    assert.ok(!JSON.stringify(a).includes('secret-arg'), 'no argument is ever reported');
    assert.deepEqual(
      a.accesses.map((x) => [x.target, x.op]),
      [
        ['/srv/placed.csv', 'read'],
        ['dpkg:sl', 'write'],
      ],
    );
    // 2 spooled + 1 online report, each with one resource sample.
    assert.equal(a.samples.length, 3);
    assert.ok(a.samples.every((s) => (s.memoryTotalBytes ?? 0) > 0 && (s.cpuCores ?? 0) >= 1));
  } finally {
    await store.close();
  }

  // The long-lived collector, as prescient-agent.service runs it (one process, a report every
  // PRESCIENT_AGENT_INTERVAL seconds): each report reads only what accounting wrote since the
  // last, also across a rotation (savelog renames the file; accounting writes a new one).
  const b64 = (records: { comm: string; uid: number }[]): string => pacct(records).toString('base64');
  const looped = await inGuest(
    `set -e
     state=/var/lib/prescient-agent
     # Waits until the collector has started a report after the one running now (it writes its counters first).
     next() { c0=$(cut -d' ' -f1 $state/counters); while [ "$(cut -d' ' -f1 $state/counters)" = "$c0" ]; do sleep 0.2; done; }
     echo ${b64([{ comm: 'htop', uid: 1000 }])} | base64 -d >> /tmp/pacct
     PRESCIENT_AGENT_INTERVAL=1 /usr/lib/prescient-agent/collect & pid=$!
     next; next
     mv /tmp/pacct /tmp/pacct.0
     echo ${b64([{ comm: 'make', uid: 1000 }])} | base64 -d > /tmp/pacct
     echo ${b64([{ comm: 'vim', uid: 1000 }])} | base64 -d >> /tmp/pacct.0
     next; next; next
     # Stopped as systemd stops it, in the middle of a report: that report still ends, and is sent.
     next; kill $pid; wait $pid || true
     echo "alive=$(kill -0 $pid 2>/dev/null && echo yes || echo no) spool=$(ls $state/spool | wc -l)"
     # A spool file cut when written is dropped, not sent as a partial line.
     printf '{"kind":"resou' > $state/spool/1-400.ndjson
     /usr/lib/prescient-agent/collect
     echo "torn=$(ls $state/spool | wc -l)"`,
    { PRESCIENT_URL: serve.url },
  );
  assert.equal(looped.exitCode, 0, looped.stderr);
  assert.match(looped.stdout, /alive=no spool=0\ntorn=0/, looped.stderr);
  assert.match(looped.stderr, /1-400\.ndjson is shorter than its name says/);
  const loopStore = openSqliteStore({ file: paths(home).store });
  try {
    const launches = (await loopStore.guestActivity(subject)).programs.filter((x) => x.kind === 'launch').map((x) => [x.name, x.count]);
    assert.deepEqual(launches, [['htop', 1], ['make', 1], ['psql', 1], ['vim', 1]], 'each record once: none read twice, none lost at the rotation');
  } finally {
    await loopStore.close();
  }

  // Revoked: the next report is refused; the agent deletes its spool and stops for good.
  await promisify(execFile)(process.execPath, [cliPath, 'consent', 'revoke', 'client:acme'], { env });
  const revoked = await inGuest(
    `/usr/lib/prescient-agent/prepare; /usr/lib/prescient-agent/collect
     echo "spool=$(ls /var/lib/prescient-agent/spool | wc -l) revoked=$(test -e /var/lib/prescient-agent/revoked && echo yes)"
     /usr/lib/prescient-agent/collect`,
    { PRESCIENT_URL: serve.url },
  );
  assert.match(revoked.stdout, /spool=0 revoked=yes/, revoked.stderr);
  // The consent's revoke also ended the agent's credential (source/agent-acme): refused as 401.
  assert.match(revoked.stderr, /refused the report \(401\)/);
  assert.match(revoked.stderr, /consent was revoked; not reporting/);
  await assertNoGuestData(paths(home).store, subject);
});
