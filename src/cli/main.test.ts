import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { test } from 'node:test';
import type { Command, CommandContext } from './command.js';
import { COMMANDS, main } from './main.js';
import type { CliIO } from './io.js';

function capture(stdin: NodeJS.ReadableStream = new PassThrough()) {
  const out = { stdout: '', stderr: '' };
  const sink = (key: 'stdout' | 'stderr') =>
    new Writable({
      write(chunk, _encoding, done) {
        out[key] += String(chunk);
        done();
      },
    });
  const io: CliIO = { stdout: sink('stdout'), stderr: sink('stderr'), stdin, env: {} };
  return { io, out };
}

test("tether --help lists each command with the summary its own definition gives", async () => {
  const modules: Record<string, () => Promise<Command<CommandContext>>> = {
    serve: async () => (await import('./commands/serve.js')).serveCommand as Command<CommandContext>,
    'hash-password': async () => (await import('./commands/hash-password.js')).hashPasswordCommand as Command<CommandContext>,
    audit: async () => (await import('./commands/audit.js')).auditCli as unknown as Command<CommandContext>,
    admin: async () => (await import('./commands/admin.js')).adminCli as unknown as Command<CommandContext>,
    login: async () => (await import('./commands/login.js')).loginCommand as unknown as Command<CommandContext>,
    status: async () => (await import('./commands/status.js')).statusCommand as unknown as Command<CommandContext>,
    exec: async () => (await import('./commands/exec.js')).execCommand as unknown as Command<CommandContext>,
    request: async () => (await import('./commands/request.js')).requestCommand as unknown as Command<CommandContext>,
    device: async () => (await import('./commands/device.js')).deviceCommand as unknown as Command<CommandContext>,
    logout: async () => (await import('./commands/logout.js')).logoutCommand as unknown as Command<CommandContext>,
    workload: async () => (await import('./commands/workload.js')).workloadCommand as unknown as Command<CommandContext>,
    token: async () => (await import('./commands/token.js')).tokenCommand as unknown as Command<CommandContext>,
    agent: async () => (await import('./commands/agent.js')).agentCommand as Command<CommandContext>,
    keys: async () => (await import('./commands/keys.js')).keysCli as unknown as Command<CommandContext>,
    policy: async () => (await import('./commands/policy.js')).policyCli as unknown as Command<CommandContext>,
    gateway: async () => (await import('./commands/gateway.js')).gatewayCli as unknown as Command<CommandContext>,
  };
  assert.deepEqual(Object.keys(COMMANDS).sort(), Object.keys(modules).sort());
  const { io, out } = capture();
  assert.equal(await main(['--help'], io), 0);
  for (const [name, load] of Object.entries(modules)) {
    const command = await load();
    assert.equal(command.command, name);
    assert.equal(COMMANDS[name]?.summary, command.summary, `the summary of ${name}`);
    assert.ok(out.stdout.includes(`${name}`) && out.stdout.includes(command.summary), `--help lists ${name}`);
  }
});

test('tether --version prints the version in package.json', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const { io, out } = capture();
  assert.equal(await main(['--version'], io), 0);
  assert.equal(out.stdout, `tether ${version}\n`);
});

test('every command answers --help on stdout with exit 0, and an unknown flag with its usage and exit 2', async () => {
  for (const name of Object.keys(COMMANDS)) {
    const help = capture();
    assert.equal(await main([name, '--help'], help.io), 0, `${name} --help: ${help.out.stderr}`);
    assert.match(help.out.stdout, /Usage:/, `${name} --help prints its usage`);
    const bad = capture();
    const code = await main([name, ...(name === 'admin' || name === 'policy' ? ['nope'] : ['--no-such-flag'])], bad.io);
    assert.equal(code, 2, `${name} with a bad argument: ${bad.out.stderr}`);
    assert.match(bad.out.stderr, /Usage:/);
  }
});

test('a URL without a scheme is a usage error (exit 2), not a failed request', async () => {
  for (const argv of [
    ['login', '--issuer', 'auth.example.com'],
    ['admin', 'revocations', '--issuer', 'auth.example.com'],
  ]) {
    const { io, out } = capture();
    io.env = { TETHER_ADMIN_KEY: 'k' };
    assert.equal(await main(argv, io), 2, out.stderr);
    assert.match(out.stderr, /--issuer must be an http\(s\) URL such as https:\/\/auth\.example\.com/);
  }
});
