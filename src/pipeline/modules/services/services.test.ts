import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { debianBase, scratchDir, testPaths } from '../../../../test/support/images.js';
import { applySeedFiles } from '../../../../test/support/seed.js';
import { oneServiceVector } from '../../../../test/support/service-vectors.js';
import type { BaseImage } from '../../../image/bases/build.js';
import { withImageSession } from '../../../image/open.js';
import type { ImageSession } from '../../../image/session.js';
import { personalize, planPersonalization } from '../../personalize.js';
import { assemblePipeline, type PipelinePlan } from '../../plan.js';
import { machineSeed } from '../../spec/machine-seed.js';
import { serviceTuners } from './services-module.js';

/**
 * Every service in the catalogue, alone, in a real image (no boot): its configuration passes
 * the service's own check run as the service's user inside the guest, with the seed's secrets
 * in place as cloud-init would write them, and its listen addresses follow the vector's
 * inbound ports (everywhere when opened, loopback when not: see the plan tests below).
 */
const p = testPaths();
let base: BaseImage;
let work: Awaited<ReturnType<typeof scratchDir>>;

before(async () => {
  base = await debianBase();
  work = await scratchDir();
});
after(async () => work.remove());

interface Case {
  service: string;
  pkg: string;
  port: number;
  check(s: ImageSession, password: string | undefined): Promise<void>;
}

async function sh(s: ImageSession, script: string): Promise<{ exitCode: number; out: string }> {
  const r = await s.exec(['sh', '-c', script], { allowFailure: true, timeoutMs: 120_000 });
  return { exitCode: r.exitCode ?? -1, out: `${r.stdout}${r.stderr}` };
}

const cases: Case[] = [
  {
    service: 'nginx',
    pkg: 'nginx',
    port: 80,
    async check(s) {
      const t = await sh(s, 'nginx -t 2>&1');
      assert.equal(t.exitCode, 0, t.out);
      const read = await sh(s, 'runuser -u www-data -- cat /etc/nginx/nginx.conf /etc/nginx/sites-enabled/default >/dev/null');
      assert.equal(read.exitCode, 0, read.out);
      const dump = (await sh(s, 'nginx -T 2>/dev/null')).out;
      assert.match(dump, /^\s*listen 80 default_server;$/m);
      assert.match(dump, /^\s*listen \[::\]:80 default_server;$/m);
      assert.doesNotMatch(dump, /listen 127\.0\.0\.1/);
    },
  },
  {
    service: 'postgresql',
    pkg: 'postgresql',
    port: 5432,
    async check(s) {
      const conf = '-c config_file=/etc/postgresql/15/main/postgresql.conf';
      const listen = await sh(s, `runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -C listen_addresses ${conf}`);
      assert.equal(listen.exitCode, 0, listen.out);
      assert.equal(listen.out.trim(), '*');
      const enc = await sh(s, `runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -C password_encryption ${conf}`);
      assert.equal(enc.out.trim(), 'scram-sha-256');
      const buffers = await sh(s, `runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -C shared_buffers ${conf}`);
      assert.notEqual(buffers.out.trim(), '128MB', 'conf.d was read: the tuned shared_buffers, not the default');
      const hba = await sh(s, 'runuser -u postgres -- cat /etc/postgresql/15/main/pg_hba.conf');
      assert.match(hba.out, /^host all all 0\.0\.0\.0\/0 scram-sha-256$/m);
      assert.doesNotMatch(hba.out, /^host\s.*\s(trust|md5|password)\s*$/m, 'remote clients use scram only');
    },
  },
  {
    service: 'redis-server',
    pkg: 'redis-server',
    port: 6379,
    async check(s, password) {
      assert.ok(password);
      // Redis loads its config as its user (no TCP port: a unix socket in the guest's /tmp).
      const r = await sh(
        s,
        `runuser -u redis -- redis-server /etc/redis/redis.conf --port 0 --unixsocket /tmp/check.sock --daemonize yes --logfile /tmp/check.log --pidfile /tmp/check.pid || { cat /tmp/check.log; exit 1; }
i=0; while [ ! -S /tmp/check.sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "noauth=$(redis-cli -s /tmp/check.sock PING 2>&1)"
echo "auth=$(REDISCLI_AUTH='${password}' redis-cli -s /tmp/check.sock PING)"
echo "bind=$(REDISCLI_AUTH='${password}' redis-cli -s /tmp/check.sock CONFIG GET bind | tail -n 1)"
echo "protected=$(REDISCLI_AUTH='${password}' redis-cli -s /tmp/check.sock CONFIG GET protected-mode | tail -n 1)"
REDISCLI_AUTH='${password}' redis-cli -s /tmp/check.sock SHUTDOWN NOSAVE >/dev/null 2>&1 || true`,
      );
      assert.equal(r.exitCode, 0, r.out);
      assert.match(r.out, /^noauth=NOAUTH/m, r.out);
      assert.match(r.out, /^auth=PONG$/m, r.out);
      assert.match(r.out, /^bind=\* -::\*$/m, r.out);
      assert.match(r.out, /^protected=yes$/m, r.out);
    },
  },
  {
    service: 'mariadb',
    pkg: 'mariadb-server',
    port: 3306,
    async check(s) {
      const r = await sh(s, 'runuser -u mysql -- mariadbd --help --verbose 2>&1');
      assert.equal(r.exitCode, 0, r.out.slice(-2000));
      assert.match(r.out, /^bind-address\s+0\.0\.0\.0$/m);
      assert.match(r.out, /^innodb-buffer-pool-size\s+\d+$/m);
    },
  },
  {
    service: 'memcached',
    pkg: 'memcached',
    port: 11211,
    async check(s, password) {
      const r = await sh(s, 'runuser -u memcache -- cat /etc/memcached.conf');
      assert.equal(r.exitCode, 0, r.out);
      assert.match(r.out, /^-l 0\.0\.0\.0$/m);
      assert.match(r.out, /^-u memcache$/m);
      assert.match(r.out, /^-Y \/etc\/memcached\/prescient-auth$/m, 'exposed, it requires the password');
      // It starts as its user with these settings (on a unix socket, so no TCP port here).
      const start = await sh(s, "args=$(grep '^-' /etc/memcached.conf | grep -v '^-[lpPU] '); timeout 3 runuser -u memcache -- memcached $args -s /tmp/mc.sock; echo \"exit=$?\"");
      assert.match(start.out, /exit=124/, start.out);
      // Started as Debian's unit starts it (root, dropping to memcache) on the image's own loopback:
      // nothing answers without the seed's password, everything with it.
      assert.ok(password && /^[0-9a-f]{32}$/.test(password), 'the seed has its password');
      const login = `prescient ${password}`;
      // bash: /dev/tcp.
      const r2 = await s.exec(
        ['bash', '-c', `args=$(grep '^-' /etc/memcached.conf | grep -v '^-[lpP] '); memcached $args -l 127.0.0.1 -p 11299 & pid=$!; sleep 2
         q() { exec 3<>/dev/tcp/127.0.0.1/11299 && printf "$1" >&3 && timeout 2 cat <&3 | tr -d '\\r' | tr '\\n' '|'; exec 3<&-; echo; }
         echo "stranger: $(q 'version\\r\\n')"
         echo "wrong: $(q 'set auth 0 0 ${login.length}\\r\\nprescient ${'0'.repeat(32)}\\r\\nversion\\r\\n')"
         echo "owner: $(q 'set auth 0 0 ${login.length}\\r\\n${login}\\r\\nset k 0 0 1\\r\\nv\\r\\nget k\\r\\n')"
         kill $pid`],
        { allowFailure: true, timeoutMs: 120_000 },
      );
      const talk = { out: `${r2.stdout}${r2.stderr}` };
      assert.match(talk.out, /^stranger: CLIENT_ERROR unauthenticated\|/m, talk.out);
      // A wrong password is refused, and the command after it too.
      assert.match(talk.out, /^wrong: CLIENT_ERROR (authentication failure|unauthenticated)\|/m, talk.out);
      assert.doesNotMatch(talk.out, /^wrong:.*VERSION/m, talk.out);
      assert.match(talk.out, /^owner: STORED\|STORED\|VALUE k 0 1\|v\|END\|/m, talk.out);
    },
  },
];

test('the catalogue names a case here for every tuned service', () => {
  assert.deepEqual(serviceTuners.map((t) => t.package({} as never)).sort(), cases.map((c) => c.pkg).sort());
});

describe('every service alone, exposed, checked in the guest as its own user', () => {
  for (const c of cases) {
    test(c.service, async () => {
      const vector = oneServiceVector({ service: c.service, pkg: c.pkg, inbound: [c.port] });
      const built = await personalize({ base, vector, pipeline: assemblePipeline({ only: ['software', 'services', 'sizing'] }), outDir: join(work.dir, c.service), layersDir: p.layers, runtimeDir: p.runtime, packageCacheDir: p.packageCache });
      const plan = (await planPersonalization({ base, vector, pipeline: assemblePipeline({ only: ['software', 'services', 'sizing'] }) })) as PipelinePlan;
      const { seed, credentials } = machineSeed({ plan, facts: base.facts, subject: vector.subject, versionKey: built.topKey });
      const password = credentials.services.find((x) => x.port === c.port)?.password;
      await withImageSession(built.outputs.disk!, { runtimeDir: p.runtime }, async (s) => {
        await applySeedFiles(s, seed.files ?? []);
        await c.check(s, password);
      });
    });
  }
});
