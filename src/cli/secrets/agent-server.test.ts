import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { AgentClient, AgentStore } from './agent-client.js';
import { AgentAlreadyRunningError, AgentServer } from './agent-server.js';

describe('tether agent', () => {
  let root: string;
  let socket: string;
  let agent: AgentServer | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tether-agent-'));
    socket = join(root, 'tether', 'agent.sock');
  });
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  test('listens on a 0600 socket in a 0700 folder', async () => {
    agent = await AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 });
    assert.equal(statSync(socket).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'tether')).mode & 0o777, 0o700);
    assert.ok(statSync(socket).isSocket());
  });

  test('refuses a folder others can enter, rather than changing it', async () => {
    const open = join(root, 'open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    await assert.rejects(AgentServer.listen({ socketPath: join(open, 'agent.sock'), idleTimeoutMs: 1000 }), /open to other users/);
    assert.equal(statSync(open).mode & 0o777, 0o755);
  });

  test('makes keys it never gives out, and signs proofs a server can verify', async () => {
    agent = await AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 });
    const store = new AgentStore(new AgentClient(socket));
    const key = await store.createKey('acct');
    assert.equal(key.publicJwk.kty, 'EC');
    assert.equal(key.publicJwk.crv, 'P-256');
    assert.ok(!('d' in key.publicJwk));
    const proof = await key.proof({ htm: 'GET', htu: 'https://api.example/x?q=1', ath: 'abc' });
    const header = decodeProtectedHeader(proof);
    const { payload } = await jwtVerify(proof, await importJWK(header.jwk as JWK, 'ES256'), { typ: 'dpop+jwt' });
    assert.equal(payload['htu'], 'https://api.example/x', 'query dropped from htu');
    assert.equal(payload['ath'], 'abc');
    // Whatever a client asks, no answer carries private key material.
    const client = new AgentClient(socket);
    for (const op of ['public-key', 'read'] as const) {
      assert.ok(!JSON.stringify(await client.request({ op, account: 'acct' })).includes('"d"'));
    }
    assert.equal((await store.loadKey('acct'))?.jkt, key.jkt);
  });

  test('signs device statements with a held key, filling in iss, times and jti itself', async () => {
    agent = await AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 });
    const store = new AgentStore(new AgentClient(socket));
    const key = await store.createKey('tether-device-key');
    const cnfJkt = 'A'.repeat(43);
    const statement = await key.attest({ aud: 'https://auth.example', cnfJkt });
    const header = decodeProtectedHeader(statement);
    assert.ok(!('d' in (header.jwk as JWK)));
    const { payload } = await jwtVerify(statement, await importJWK(header.jwk as JWK, 'ES256'), { typ: 'tether-device+jwt', audience: 'https://auth.example' });
    assert.equal(payload.iss, key.jkt);
    assert.deepEqual(payload['cnf'], { jkt: cnfJkt });
    assert.ok(typeof payload.jti === 'string' && Number(payload.exp) - Number(payload.iat) <= 60);
    // The socket takes only an issuer URL and a thumbprint: nothing else can be slipped into a statement.
    const client = new AgentClient(socket);
    await assert.rejects(client.request({ op: 'attest', account: 'tether-device-key', claims: { aud: 'https://auth.example', cnfJkt: 'short' } }), /cnfJkt/);
    await assert.rejects(client.request({ op: 'attest', account: 'nobody', claims: { aud: 'https://auth.example', cnfJkt } }), /no key/);
  });

  test('holds tokens only beside their key, and forgets an account on request', async () => {
    agent = await AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 });
    const store = new AgentStore(new AgentClient(socket));
    const tokens = { accessToken: 'at', accessTokenExpiresAt: 1, refreshToken: 'rt' };
    await assert.rejects(store.writeTokens('nokey', tokens), /no key/);
    await store.createKey('acct');
    await store.writeTokens('acct', tokens);
    assert.deepEqual(await store.readTokens('acct'), tokens);
    await store.forget('acct');
    assert.equal(await store.readTokens('acct'), undefined);
    assert.equal(await store.loadKey('acct'), undefined);
  });

  test('after the idle timeout it forgets everything and its socket is gone', async (t) => {
    // The idle timer is moved by hand: the test neither waits for it nor races it on a loaded machine.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    agent = await AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 });
    const store = new AgentStore(new AgentClient(socket));
    await store.createKey('acct');
    t.mock.timers.tick(60_000);
    assert.equal(await agent.stopped, 'idle');
    assert.equal(existsSync(socket), false);
    await assert.rejects(store.readTokens('acct'), /no tether agent is running/);
  });

  test('each request restarts the idle clock', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    agent = await AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 });
    const client = new AgentClient(socket);
    let stopped: string | undefined;
    void agent.stopped.then((reason) => (stopped = reason));
    for (let i = 0; i < 4; i++) {
      t.mock.timers.tick(45_000);
      assert.ok((await client.ping()) !== undefined, `still there after ${(i + 1) * 45} s of use`);
    }
    t.mock.timers.tick(59_000);
    await client.ping();
    assert.equal(stopped, undefined, 'a request 59 s after the last is still in time');
    t.mock.timers.tick(60_000);
    assert.equal(await agent.stopped, 'idle');
  });

  test('stop: answers, then forgets and removes its socket', async () => {
    agent = await AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 });
    await new AgentClient(socket).request({ op: 'stop' });
    assert.equal(await agent.stopped, 'stop-request');
    assert.equal(existsSync(socket), false);
  });

  test('a second agent does not steal a live socket; a dead one\'s socket is reused', async () => {
    agent = await AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 });
    await assert.rejects(AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 }), AgentAlreadyRunningError);
    assert.ok((await new AgentClient(socket).ping()) !== undefined);
    await agent.close();
    // Leave a stale socket behind, as an agent killed with SIGKILL would.
    const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`]);
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    assert.ok(existsSync(socket), 'the dead process left its socket file');
    agent = await AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 });
    assert.ok((await new AgentClient(socket).ping()) !== undefined);
  });

  test('refuses garbage and oversized requests without falling over', async () => {
    agent = await AgentServer.listen({ socketPath: socket, idleTimeoutMs: 60_000 });
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const s = createConnection(socket);
        let data = '';
        s.on('data', (c) => (data += c.toString()));
        s.on('end', () => resolve(data));
        s.on('error', () => resolve(data));
        s.write(text);
      });
    assert.match(await raw('not json\n'), /not JSON/);
    assert.match(await raw('{"op":"sign","account":"a","claims":{"htm":"GET","htu":"file:///etc/passwd"}}\n'), /htu/);
    assert.match(await raw(`${'x'.repeat(70_000)}\n`), /too large/);
    assert.ok((await new AgentClient(socket).ping()) !== undefined, 'still serving');
  });

  test('a path that is not a socket is never deleted', async () => {
    mkdirSync(join(root, 'tether'), { mode: 0o700 });
    writeFileSync(socket, 'precious');
    await assert.rejects(AgentServer.listen({ socketPath: socket, idleTimeoutMs: 1000 }), /not a socket/);
    assert.ok(existsSync(socket));
  });
});
