import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execCommand } from '../../src/cli/commands/exec.js';
import { requestCommand } from '../../src/cli/commands/request.js';
import { statusCommand } from '../../src/cli/commands/status.js';
import { ProfileFile } from '../../src/cli/config/profiles.js';
import { ExitCode } from '../../src/cli/io.js';
import { startServer, type TestServer } from '../support/in-process.js';
import { filesUnder, findSecrets, loginAndDecide, mapKeyring, readAll, Sandbox } from './harness.js';
import { recordingFetch } from './recording-fetch.js';

/** Dumps its environment to the file named by its first argument. */
const DUMP_ENV = `require('node:fs').writeFileSync(process.argv[1], JSON.stringify(process.env))`;

/**
 * The promise of issue point 2: log in under a throwaway HOME, use the session (including a refresh, so two
 * generations of tokens exist), run a child through `tether exec`, then look everywhere a secret could have
 * leaked to at rest: every file under HOME and under the runtime folder, and the child's environment. The secrets
 * searched for are every access token, refresh token and device code the server handed out, and private keys.
 */
describe('no secret at rest', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ device_flow: { code_ttl: '5m', interval: 1 } });
  });
  after(() => server.close());

  for (const variant of ['agent', 'keyring'] as const) {
    test(`with the ${variant === 'agent' ? 'tether agent' : 'OS keychain'}: no token, refresh token or private key in any file or in the child's environment`, async () => {
      const keychain = mapKeyring();
      const box = new Sandbox(variant === 'keyring' ? keychain : undefined);
      const scratch = mkdtempSync(join(tmpdir(), 'tether-scan-'));
      try {
        const recorder = recordingFetch();
        assert.equal((await loginAndDecide(server, box.deps({ fetch: recorder.fetch }))).code, ExitCode.ok);
        const profile = new ProfileFile(box.deps().deps.paths.configFile).select();
        assert.ok(profile);
        assert.equal(profile.secret_store, variant);

        // A refresh, so the rotated generation of tokens exists too.
        const store = await box.deps().deps.secrets.open(variant);
        const tokens = await store.readTokens(profile.account);
        assert.ok(tokens);
        await store.writeTokens(profile.account, { ...tokens, accessTokenExpiresAt: 0 });
        const call = box.deps({ fetch: recorder.fetch });
        assert.equal(await requestCommand(['GET', `${server.api}/whoami`], call.deps), ExitCode.ok, call.stderr.text);
        assert.equal(await statusCommand([], box.deps().deps), ExitCode.ok);

        const envFile = join(scratch, 'env.json');
        const exec = box.deps({ fetch: recorder.fetch });
        assert.equal(await execCommand(['--', process.execPath, '-e', DUMP_ENV, envFile], exec.deps), ExitCode.ok, exec.stderr.text);

        const secrets = recorder.secrets();
        const kinds = recorder.exchanges.flatMap((e) => Object.keys(e.body));
        assert.ok(secrets.length >= 5, 'two access tokens, two refresh tokens and the device code were issued');
        assert.ok(kinds.includes('refresh_token') && kinds.includes('device_code'));
        if (variant === 'keyring') {
          // Here the private key is known (it is in the keychain), so look for its exact value as well.
          const entry = JSON.parse(keychain.entries.get(`tether/${profile.account}`) ?? '{}') as { key: { d: string } };
          secrets.push(entry.key.d);
        }

        const texts = readAll([box.home, box.runtime]);
        texts['child environment'] = readFileSync(envFile, 'utf8');
        assert.ok(filesUnder(box.home).length >= 1, 'the scan did see the config file');
        assert.deepEqual(findSecrets(texts, secrets), []);
        // Only metadata on disk: the config file and nothing else.
        assert.deepEqual(filesUnder(box.home).map((f) => f.slice(box.home.length)), ['/.config/tether/config.json']);
        // The scan itself can see a secret when one is there.
        assert.notDeepEqual(findSecrets({ probe: `x${secrets[0]}x` }, secrets), []);
      } finally {
        await box.close();
        rmSync(scratch, { recursive: true, force: true });
      }
    });
  }
});
