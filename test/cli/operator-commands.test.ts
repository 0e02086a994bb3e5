import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditCommand } from '../../src/cli/commands/audit.js';
import { gatewayCommand } from '../../src/cli/commands/gateway.js';
import { ExitCode } from '../../src/cli/io.js';
import { captureIo } from '../support/cli-io.js';
import { authorize } from '../support/device-flow.js';
import { startServer, type TestServer } from '../support/in-process.js';

const BIN = join(import.meta.dirname, '../../bin/tether.js');

describe('operator commands', () => {
  let server: TestServer;
  const scratch = mkdtempSync(join(tmpdir(), 'tether-operator-'));
  before(async () => {
    server = await startServer();
    // Enough events that an export outgrows a pipe's buffer (64 KiB), so a reader that leaves early is noticed.
    for (let i = 0; i < 250; i++) await authorize(server);
  });
  after(async () => {
    await server.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('tether audit on a folder without a store: exit 2, and the folder is not created', async () => {
    const missing = join(scratch, 'no-such-folder');
    for (const args of [['verify'], [], ['export'], ['trace', 'ABCD-EFGH']]) {
      const cli = captureIo();
      assert.equal(await auditCommand([...args, '--data-dir', missing], cli), ExitCode.usage, cli.err());
      assert.match(cli.err(), /no Tether store in .*no-such-folder/);
      assert.doesNotMatch(cli.out(), /intact/);
      assert.equal(existsSync(missing), false, 'no folder was created');
    }
    const cli = captureIo();
    assert.equal(await auditCommand(['verify', '--data-dir', server.config.data_dir], cli), ExitCode.ok, cli.err());
    assert.match(cli.out(), /Audit chain intact: [1-9]\d* events/);
  });

  test('tether audit export | head -1: ends quietly when the reader leaves, no stack trace', async () => {
    const child = spawn(process.execPath, [BIN, 'audit', 'export', '--data-dir', server.config.data_dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += String(c)));
    // Like `head -1`: read the first chunk, then close the pipe.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(stderr, '', 'nothing on stderr');
    assert.equal(code, 0);
  });

  test('tether gateway with credentials the issuer refuses: a clear message and exit 5 instead of retrying forever', async () => {
    const cli = captureIo({ TETHER_GATEWAY_CLIENT_SECRET: 'not-the-secret-of-api-gateway-0123456789', TETHER_LOG_LEVEL: 'silent' });
    const never = new Promise<void>(() => undefined);
    const started = Date.now();
    const code = await gatewayCommand(
      ['--issuer', server.issuer, '--audience', server.api, '--upstream', 'http://127.0.0.1:9', '--port', '0', '--client-id', 'api-gateway'],
      cli,
      never,
    );
    assert.equal(code, ExitCode.unauthorized, cli.err());
    assert.match(cli.err(), /refused this gateway's client credentials \(HTTP 401 invalid_client\)/);
    assert.match(cli.err(), /TETHER_GATEWAY_CLIENT_SECRET/);
    assert.ok(Date.now() - started < 10_000, 'gave up at once');
  });
});
