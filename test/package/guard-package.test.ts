import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { dpopKey } from '../support/dpop.js';
import { GATEWAY_SECRET, startServer, type TestServer } from '../support/in-process.js';
import { login, type LoggedIn } from '../support/tokens.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** What a resource server's author writes (docs/guard.md): the published entry points, nothing of src/. */
const APP = `
import express from 'express';
import { connectGuard } from 'tether/guard';
import { identityOf, tetherGuard } from 'tether/guard/express';

const { guard, stream } = await connectGuard({
  issuer: process.env.ISSUER,
  audience: process.env.AUDIENCE,
  clientId: 'api-gateway',
  clientSecret: process.env.CLIENT_SECRET,
  requiredScopes: ['read'],
});
await stream.ready(20_000);
const app = express();
app.get('/orders', tetherGuard(guard), (req, res) => res.json({ user: identityOf(req)?.sub }));
const server = app.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.on('SIGTERM', () => { server.close(); void stream.close(); });
`;

/** The declarations resolve through `exports`: a wrong option is a type error, which it could not be with `any`. */
const TYPES = `
import { connectGuard, Guard, type ConnectGuardOptions, type VerifiedIdentity } from 'tether/guard';
import { withGuard } from 'tether/guard/node';

export const connect: (o: ConnectGuardOptions) => Promise<{ guard: Guard }> = connectGuard;
export const handler = (guard: Guard) => withGuard(guard, (_req, res, who: VerifiedIdentity) => res.end(who.sub));
// @ts-expect-error the audience is required
export const incomplete: ConnectGuardOptions = { issuer: 'https://tether.example', clientId: 'api', clientSecret: 's' };
`;

/**
 * The guard as a user gets it: `npm pack` of this repository, installed into an empty project beside Express and
 * nothing else, guarding a route with a real DPoP-bound token from an in-process Tether.
 */
describe('the guard package', { timeout: 120_000 }, () => {
  let work: string;
  let project: string;
  let server: TestServer;
  let app: ChildProcess | undefined;
  let url: string;
  let session: LoggedIn;

  before(async () => {
    assert.ok(existsSync(join(ROOT, 'dist/guard/index.d.ts')), 'dist/ is missing or has no declarations: run npm run build');
    work = mkdtempSync(join(tmpdir(), 'tether-package-'));
    // The build is the test run's own (npm test builds first), so pack skips the prepare script.
    await run(NPM, ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: ROOT });
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack wrote a tarball');
    project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'guarded-api', version: '1.0.0', type: 'module', private: true }));
    // From the npm cache when it has everything (as after npm ci), the registry otherwise; no install scripts.
    await run(NPM, ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', join(work, tarball), 'express'], {
      cwd: project,
      timeout: 90_000,
    });
    writeFileSync(join(project, 'app.mjs'), APP);
    writeFileSync(join(project, 'types.ts'), TYPES);

    server = await startServer();
    session = await login(server, { scope: 'read' });
    app = spawn(process.execPath, ['app.mjs'], {
      cwd: project,
      env: { PATH: process.env['PATH'], ISSUER: server.issuer, AUDIENCE: server.api, CLIENT_SECRET: GATEWAY_SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const errors: string[] = [];
    app.stderr?.on('data', (chunk: Buffer) => errors.push(chunk.toString()));
    const port = await new Promise<number>((done, fail) => {
      app?.stdout?.once('data', (chunk: Buffer) => done((JSON.parse(chunk.toString()) as { port: number }).port));
      app?.once('exit', (code) => fail(new Error(`the guarded app exited with ${code}: ${errors.join('')}`)));
    });
    url = `http://127.0.0.1:${port}/orders`;
  });

  after(async () => {
    app?.kill('SIGTERM');
    await server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

  test('the throwaway project depends on the tarball and Express, nothing else', () => {
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.deepEqual(Object.keys(manifest.dependencies).sort(), ['express', 'tether']);
    assert.match(manifest.dependencies['tether'] ?? '', /\.tgz$/);
  });

  test('lets a DPoP-bound token with a proof by its key through, and names the person', async () => {
    const proof = await session.key.proof('GET', url, { ath: ath(session.accessToken) });
    const reply = await fetch(url, { headers: { authorization: `DPoP ${session.accessToken}`, dpop: proof } });
    assert.equal(reply.status, 200, await reply.clone().text());
    assert.deepEqual(await reply.json(), { user: 'alice' });
  });

  test('refuses the same token copied without its key: as Bearer, or with a proof by another key', async () => {
    const bearer = await fetch(url, { headers: { authorization: `Bearer ${session.accessToken}` } });
    assert.equal(bearer.status, 401);
    assert.match(bearer.headers.get('www-authenticate') ?? '', /^DPoP .*error="invalid_token"/);
    const thief = await dpopKey();
    const stolen = await fetch(url, {
      headers: { authorization: `DPoP ${session.accessToken}`, dpop: await thief.proof('GET', url, { ath: ath(session.accessToken) }) },
    });
    assert.equal(stolen.status, 401);
    assert.equal(((await stolen.json()) as { error: string }).error, 'invalid_dpop_proof');
  });

  test('ships type declarations that the exports map resolves', async () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck'];
    const result = await run(process.execPath, [tsc, ...flags, 'types.ts'], { cwd: project }).then(
      () => ({ ok: true, out: '' }),
      (error: { stdout?: string }) => ({ ok: false, out: error.stdout ?? String(error) }),
    );
    assert.ok(result.ok, result.out);
  });
});
