import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Command } from 'commander';
import { makeChain } from '../registry/testing/qcow2-fixtures.js';
import { cliPath, repoPath, repoRoot } from '../../test/support/repo.js';
import { debianBase, testHome } from '../../test/support/images.js';
import { buildProgram } from './main.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `prescient ARGS` as a user types it (optionally as another uid, with stdin). */
function cli(args: readonly string[], o: { home?: string; input?: string; uid?: number; cwd?: string } = {}): Promise<Run> {
  const argv = [cliPath, ...args];
  const [cmd, full] = o.uid === undefined ? [process.execPath, argv] : ['setpriv', [`--reuid=${o.uid}`, `--regid=${o.uid}`, '--clear-groups', process.execPath, ...argv]];
  return new Promise((resolve) => {
    const child = spawn(cmd, full, { cwd: o.cwd ?? repoRoot, env: { ...process.env, PRESCIENT_HOME: o.home ?? '/nonexistent/prescient-home', PRESCIENT_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(o.input ?? '');
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The user-error contract: exactly one line on stderr, the documented status, no stack trace. */
function assertUserError(r: Run, status: number, pattern: RegExp): void {
  assert.equal(r.code, status, `exit status (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/^[…✓✗]/.test(l));
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at [^\n]+:\d+:\d+/, 'no stack trace');
}

const nobody = 65534;

describe('bad input: one line naming the problem and the fix, a documented exit status', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-user-errors-'));
    await chmod(dir, 0o755);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('a missing file is 2 (invalid input), also with --json, which reports VALIDATION and not INTERNAL', async () => {
    assertUserError(await cli(['vector', 'validate', 'nope.json']), 2, /no such file nope\.json; check the path/);
    assertUserError(await cli(['verify', 'nope.qcow2']), 2, /no such file nope\.qcow2/);
    assertUserError(await cli(['personalize', '--base', 'debian-12', '--vector', 'nope.json', '--plan']), 2, /--vector: no such file nope\.json/);
    assertUserError(await cli(['base', 'import', 'nope.qcow2'], { home: dir }), 2, /no such file nope\.qcow2/);
    const j = await cli(['vector', 'validate', 'nope.json', '--json']);
    assert.equal(j.code, 2);
    assert.equal(JSON.parse(j.stdout).error, 'VALIDATION');
  });

  test('--debug shows the stack trace the one-line error leaves out', async () => {
    const r = await cli(['vector', 'validate', 'nope.json', '--debug']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\n\s+at [^\n]+:\d+:\d+/);
  });

  test('usage errors are 2: an unknown flag, a missing argument, a bad choice', async () => {
    assertUserError(await cli(['images', 'ls', '--nope']), 2, /unknown option '--nope'.*--help/);
    assertUserError(await cli(['vector', 'validate']), 2, /missing required argument/);
    assertUserError(await cli(['completion', 'tcsh']), 2, /tcsh/);
    assertUserError(await cli(['personalize', '--base', 'debian-12', '--plan']), 2, /--vector: give a usage vector file .* or describe one with --packages/);
    assertUserError(await cli(['personalize', '--base', 'debian-12', '--memory', 'lots', '--plan']), 2, /--memory: a positive size such as .*"lots"/);
    // --plan is a dry run of the same command: the flags only a build uses are checked too.
    assertUserError(await cli(['personalize', '--base', 'debian-12', '--packages', 'git', '--backend', 'bogus', '--plan']), 2, /^error: --backend: must be auto, mount or guestfs$/);
    assertUserError(await cli(['personalize', '--base', 'debian-12', '--packages', 'git', '--ssh-key', 'nope.pub', '--plan']), 2, /^error: --ssh-key\[0\]: no such file nope\.pub; check the path$/);
    // `--ssh-key -` reads standard input, as `ssh-keys add -` does: a key there passes (the next check is the base's), a non-key is named.
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop\n';
    assertUserError(await cli(['personalize', '--base', 'nope', '--packages', 'git', '--ssh-key', '-', '--plan'], { input: key }), 3, /no base image "nope"/);
    assertUserError(await cli(['personalize', '--base', 'nope', '--packages', 'git', '--ssh-key', '-', '--plan'], { input: 'hello\n' }), 2, /^error: --ssh-key \(standard input\): not an OpenSSH public key/);
    assertUserError(await cli(['personalize', '--base', 'nope', '--vector', '-', '--ssh-key', '-', '--plan'], { input: key }), 2, /^error: --ssh-key: standard input \(-\) can be read once/);
  });

  test('a misspelt flag is named with its suggestion on one line, even where a required flag is missing', async () => {
    assertUserError(await cli(['images', 'gc', '--dryrun']), 2, /unknown option '--dryrun' \(Did you mean --dry-run\?\) \(see --help\)$/);
    assertUserError(await cli(['ingest', 'x.ndjson', '--formt', 'ndjson']), 2, /unknown option '--formt' \(Did you mean --format\?\)/);
    assertUserError(await cli(['personalize', '--bsae', 'debian-12', '--packages', 'git', '--plan']), 2, /unknown option '--bsae' \(Did you mean --base\?\)/);
    // A required flag that is really missing is still named.
    assertUserError(await cli(['ingest', 'x.ndjson']), 2, /required option '-f, --format <format>' not specified/);
    assertUserError(await cli(['datasets', 'add', 'cat', '/srv/cat.sql']), 2, /required option '--max-size <size>' not specified/);
  });

  test('a bad client id is named as the argument it was given in', async () => {
    assertUserError(await cli(['credentials', 'issue', 'Bad Id!']), 2, /^error: <clientId>: lowercase letters/);
    assertUserError(await cli(['prepare', 'ok', 'Bad Id']), 2, /^error: <clientId>: lowercase letters/);
    for (const sub of [['add', 'Bad Id', 'x.pub'], ['ls', 'Bad Id'], ['rm', 'Bad Id', 'SHA256:x']]) assertUserError(await cli(['ssh-keys', ...sub]), 2, /^error: <client>: lowercase letters/);
  });

  test("serve's retention flags are named as the user typed them", async () => {
    assertUserError(await cli(['serve', '--retain-raw-days', 'x']), 2, /^error: --retain-raw-days: expected a positive number of days$/);
    assertUserError(await cli(['serve', '--retain-raw-days', '30', '--retain-rollups-days', '7']), 2, /^error: --retain-rollups-days: rollups must be kept at least as long as raw events \(--retain-raw-days\)$/);
  });

  test('with --json a usage error is also the JSON error on stdout, as for any other error', async () => {
    for (const args of [['images', 'ls', '--nope', '--json'], ['--json', 'completion', 'tcsh'], ['--json', 'ingest', 'x.ndjson'], ['--json', 'images']]) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      const body = JSON.parse(r.stdout) as { error: string; message: string; details: { usage: string } };
      assert.equal(body.error, 'VALIDATION', args.join(' '));
      assert.match(body.message, /\(see --help\)$/);
    }
    assert.match((JSON.parse((await cli(['images', 'ls', '--nope', '--json'])).stdout) as { message: string }).message, /^unknown option '--nope'/);
    assert.equal((await cli(['images', 'ls', '--help', '--json'])).stdout.startsWith('Usage:'), true, 'help is still help');
  });

  test('a file that holds no Linux filesystem is named as given, not as the working copy made of it', async () => {
    const text = join(dir, 'notes.txt');
    await writeFile(text, 'not a disk image\n'.repeat(64));
    assertUserError(await cli(['base', 'import', text, '-q'], { home: join(dir, 'import-home') }), 3, new RegExp(`^error: no Linux filesystem found in ${text}$`));
    assertUserError(await cli(['verify', text, '-q'], { home: join(dir, 'verify-home') }), 3, new RegExp(`^error: no Linux filesystem found in ${text}$`));
  });

  test('no such base is 3 and says how to get one', async () => {
    assertUserError(await cli(['personalize', '--base', 'nope', '--packages', 'git', '--plan'], { home: dir }), 3, /no base image "nope"; build one with 'prescient base build debian-12'/);
    assertUserError(await cli(['personalize', '--base', '/nope/disk.qcow2', '--packages', 'git', '--plan'], { home: dir }), 3, /no base image at \/nope\/disk\.qcow2; import it first/);
  });

  test('permission and not root are 4 and say what to do', async () => {
    const secret = join(dir, 'root-only.json');
    await writeFile(secret, '{}', { mode: 0o600 });
    assertUserError(await cli(['vector', 'validate', secret], { uid: nobody }), 4, /cannot read .*root-only\.json \(permission denied\); run as a user who may read it/);
    assertUserError(await cli(['base', 'build', 'debian-12'], { uid: nobody, home: join(dir, 'nobody-home') }), 4, /base build needs root .*sudo.*prescient base import FILE/);
    const unwritable = join(dir, 'locked');
    await writeFile(unwritable, '');
    assertUserError(await cli(['keys', 'rotate'], { uid: nobody, home: join(unwritable, 'home') }), 2, /not a folder/);
  });

  test('a read-only command creates nothing: images ls as a non-root user on a missing home', async () => {
    const home = join(dir, 'never-made');
    const r = await cli(['images', 'ls'], { uid: nobody, home });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no images yet/);
    assert.equal((await cli(['layers', 'ls'], { uid: nobody, home })).stdout, 'no layers cached yet\n');
    for (const args of [['images', 'ls', '--json'], ['keys', 'ls'], ['consent', 'ls'], ['base', 'ls']]) assert.equal((await cli(args, { uid: nobody, home })).code, 0, args.join(' '));
    assert.equal(existsSync(home), false, 'the home was created');
  });

  test('pushing or pulling over HTTPS to a plain-HTTP registry names --insecure', async () => {
    const server = createServer((_q, res) => res.writeHead(404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      assertUserError(await cli(['pull', `127.0.0.1:${port}/clients/x:v1`, 'clients/x', '-q'], { home: join(dir, 'pull-home') }), 2, /plain HTTP; add --insecure if you trust it/);
    } finally {
      server.close();
    }
  });

  test('a source that is not an image reference is named as the argument, not passed through as skopeo\'s log line', async () => {
    const r = await cli(['pull', 'bad ref', 'clients/x', '-q'], { home: join(dir, 'pull-home') });
    assertUserError(r, 2, /<source>: "bad ref" is not an image reference: expected host\[:port\]\/repository/);
    assert.doesNotMatch(r.stderr, /level=fatal/);
  });

  test('plurals: 1 issue, 2 issues', async () => {
    const v = JSON.parse(await readFile(repoPath('examples/vectors/web-db.json'), 'utf8'));
    v.confidence = 2;
    const one = await cli(['vector', 'validate', '-'], { input: JSON.stringify(v) });
    assert.match(one.stdout, /: 1 issue$/m);
    v.resources.vcpus = 0;
    assert.match((await cli(['vector', 'validate', '-'], { input: JSON.stringify(v) })).stdout, /: 2 issues$/m);
  });
});

describe('CLI habits', () => {
  test('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(repoPath('package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  test('completion scripts for bash, zsh and fish parse, and bash completes from the command tree', async () => {
    for (const [shell, check] of [['bash', ['bash', '-n']], ['zsh', ['zsh', '-n']], ['fish', ['fish', '--no-execute']]] as const) {
      const script = await cli(['completion', shell]);
      assert.equal(script.code, 0);
      const file = join(tmpdir(), `prescient-completion-${process.pid}.${shell}`);
      await writeFile(file, script.stdout);
      const r = await new Promise<number | null>((resolve) => spawn(check[0], [...check.slice(1), file], { stdio: 'inherit' }).on('close', resolve));
      await rm(file, { force: true });
      assert.equal(r, 0, `${shell} refused its completion script`);
    }
    const bash = (await cli(['completion', 'bash'])).stdout;
    const complete = async (words: string[]): Promise<string[]> => {
      const prog = `${bash}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _prescient_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const out = await new Promise<string>((resolve) => {
        let s = '';
        const c = spawn('bash', ['-c', prog]);
        c.stdout.on('data', (d: Buffer) => (s += d.toString()));
        c.on('close', () => resolve(s));
      });
      return out.split('\n').filter(Boolean);
    };
    assert.deepEqual(await complete(['prescient', 'ima']), ['image', 'images']);
    assert.deepEqual(await complete(['prescient', 'images', 'sh']), ['show']);
    assert.deepEqual((await complete(['prescient', 'ingest', 'x', '--format', 'o'])), ['otlp']);
    // An argument with choices completes them, not files.
    assert.deepEqual(await complete(['prescient', 'completion', '']), ['bash', 'zsh', 'fish']);
    assert.deepEqual(await complete(['prescient', '--json', 'completion', 'z']), ['zsh']);
    assert.ok((await complete(['prescient', 'personalize', '--pa'])).includes('--packages'));
    // Every command, hyphenated names too (ssh-keys, sample-telemetry): exactly its subcommands
    // and exactly the flags commander accepts there (its own, the global ones, --help).
    const program = buildProgram();
    const visit = async (cmd: Command, path: string[]): Promise<void> => {
      for (const sub of cmd.commands.filter((c) => c.name() !== 'help')) {
        const words = [...path, sub.name()];
        const flags = [...sub.options, ...program.options].flatMap((o) => [o.long, o.short]).filter((f): f is string => !!f);
        assert.deepEqual((await complete(['prescient', ...words, '--'])).sort(), [...new Set([...flags.filter((f) => f.startsWith('--')), '--help'])].sort(), words.join(' '));
        if (sub.commands.length) assert.deepEqual(await complete(['prescient', ...words, '']), sub.commands.map((c) => c.name()).filter((n) => n !== 'help'), words.join(' '));
        await visit(sub, words);
      }
    };
    await visit(program, []);
  });

  test('the short spec gives a valid vector, its plan installs redis-server and git, and the built image has both (dpkg)', async () => {
    const spec = ['--packages', 'redis-server,git', '--vcpus', '2', '--memory', '4GiB', '--disk', '10GiB', '--ports', '22,6379', '--service', 'redis'];
    const made = await cli(['vector', 'new', ...spec]);
    assert.equal(made.code, 0, made.stderr);
    const validated = await cli(['vector', 'validate', '-', '--json'], { input: made.stdout });
    assert.equal(validated.code, 0, validated.stdout);
    assert.equal(JSON.parse(validated.stdout).valid, true);
    const v = JSON.parse(made.stdout);
    assert.deepEqual([v.resources.vcpus, v.resources.memoryMiB, v.resources.diskGiB], [2, 4096, 10]);
    assert.deepEqual(v.network.inbound, [{ port: 22, protocol: 'tcp' }, { port: 6379, protocol: 'tcp' }]);
    // A minimal file: only what a person knows; the rest are the defaults beside the schema.
    const minimal = await cli(['vector', 'new', '--from', '-'], { input: JSON.stringify({ software: [{ name: 'git' }], resources: { vcpus: 2 } }) });
    assert.equal((await cli(['vector', 'validate', '-'], { input: minimal.stdout })).code, 0);

    // Its own home with the shared base's record and the default admin policy (SSH's port and redis's own are allowed).
    const base = await debianBase();
    const home = await mkdtemp(join(tmpdir(), 'prescient-short-spec-'));
    await mkdir(join(home, 'bases'));
    await copyFile(join(testHome(), 'bases', `${base.name}-${base.key}.json`), join(home, 'bases', `${base.name}-${base.key}.json`));
    await symlink(base.path, join(home, 'bases', basename(base.path))); // a base record finds its image beside it
    const plan = await cli(['personalize', '--base', 'debian-12', ...spec, '--plan', '--json'], { home });
    assert.equal(plan.code, 0, plan.stderr);
    const installs = (JSON.parse(plan.stdout).modules as { id: string; changes: { kind: string; packages?: string[] }[] }[]).flatMap((m) => m.changes).flatMap((c) => c.packages ?? []);
    assert.ok(installs.includes('redis-server') && installs.includes('git'), installs.join(','));
    // Built for real: dpkg inside the image has both installed.
    const out = join(home, 'short-spec');
    const built = await cli(['personalize', '--base', 'debian-12', ...spec, '--out', out, '--json'], { home });
    assert.equal(built.code, 0, built.stderr);
    const dpkg = await cli(['image', 'exec', join(out, 'disk.qcow2'), '--', 'dpkg-query', '-W', '-f', '${Package} ${Status}\n', 'redis-server', 'git'], { home });
    assert.equal(dpkg.code, 0, dpkg.stderr);
    assert.match(dpkg.stdout, /^redis-server install ok installed$/m);
    assert.match(dpkg.stdout, /^git install ok installed$/m);
    // The same vector through stdin, with the base named by a relative path: the same plan.
    const viaStdin = await cli(['personalize', '--base', relative(tmpdir(), base.path), '--vector', '-', '--plan', '--json'], { home, input: made.stdout, cwd: tmpdir() });
    assert.equal(viaStdin.code, 0, viaStdin.stderr);
    assert.deepEqual(JSON.parse(viaStdin.stdout).spec, JSON.parse(plan.stdout).spec);
    // A port neither a service's nor allowed by the admin is refused, naming the field; allowed, it plans.
    const more = spec.map((a) => (a === '22,6379' ? '22,6379,8080' : a));
    assertUserError(await cli(['personalize', '--base', 'debian-12', ...more, '--plan'], { home }), 2, /network\.inbound\[2\]: tcp\/8080 .*admin policy/);
    assert.equal((await cli(['policy', 'add', 'inbound', '8080/tcp'], { home })).code, 0);
    assert.equal((await cli(['personalize', '--base', 'debian-12', ...more, '--plan'], { home })).code, 0);
    await rm(home, { recursive: true, force: true });
  });

  describe('images show and export read as text', () => {
    let home: string;
    before(async () => {
      home = await mkdtemp(join(tmpdir(), 'prescient-cli-show-'));
      const chain = await makeChain(join(home, 'layers'), 2);
      const packages = Array.from({ length: 1000 }, (_, i) => ({ name: `pkg${i}`, version: '1.0' }));
      await writeFile(join(home, 'image-config.json'), JSON.stringify({ baseFacts: { os: { prettyName: 'Debian GNU/Linux 12 (bookworm)' }, architecture: 'amd64', packages }, vmSpec: { vcpus: 2, memoryMiB: 4096, diskGiB: 10, swapMiB: 0 }, plan: { modules: [{ id: 'software', version: 1, changes: [{}] }] } }));
      const r = await cli(['images', 'register', 'clients/acme', '--layer', ...chain.files, '--config', join(home, 'image-config.json'), '-q'], { home });
      assert.equal(r.code, 0, r.stderr);
    });
    after(async () => rm(home, { recursive: true, force: true }));

    test('images show is one screen; --packages lists the base packages; --json keeps everything', async () => {
      const short = await cli(['images', 'show', 'clients/acme:latest'], { home });
      assert.equal(short.code, 0, short.stderr);
      assert.ok(short.stdout.split('\n').length < 25, short.stdout);
      assert.match(short.stdout, /1000 packages \(--packages lists them\)/);
      assert.match(short.stdout, /software v1 \(1 change\)/);
      const full = await cli(['images', 'show', 'clients/acme:latest', '--packages'], { home });
      assert.match(full.stdout, /^ {2}pkg999 1\.0$/m);
      assert.equal(JSON.parse((await cli(['images', 'show', 'clients/acme:latest', '--json'], { home })).stdout).config.baseFacts.packages.length, 1000);
    });

    test('pushing to a plain-HTTP registry without --insecure names --insecure (exit 2, one line)', async () => {
      const server = createServer((_q, res) => res.writeHead(404).end());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const port = (server.address() as AddressInfo).port;
        assertUserError(await cli(['push', 'clients/acme:latest', `127.0.0.1:${port}/clients/acme:v1`, '-q'], { home }), 2, /--insecure: the registry speaks plain HTTP; add --insecure if you trust it/);
      } finally {
        server.close();
      }
    });

    test('images export prints what it wrote, not raw JSON', async () => {
      const r = await cli(['images', 'export', 'clients/acme:latest', '--flat', join(home, 'flat.qcow2'), '-q'], { home });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^flat qcow2: +\S+flat\.qcow2 \(/);
      assert.doesNotMatch(r.stdout, /[{}"]/);
    });
  });
});
