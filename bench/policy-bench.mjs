// Policy decisions per second at the guard's request-time check (Cedar action CallResource, default pack), beside
// the ES256 signature verifications the guard does for the same request (the access token and the DPoP proof),
// measured in the same process and run, interleaved so that a noisy neighbour hits both alike.
//
// Standalone: `npm run build && node bench/policy-bench.mjs [--seconds N] [--json]`.
// From another script: `import { runPolicyBench } from './policy-bench.mjs'` (returns the figures, prints nothing).
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const dist = new URL('../dist/policy/', import.meta.url);

/** Realistic signing inputs: an RFC 9068 access token and an RFC 9449 proof, as base64url header.payload. */
function signingInputs() {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
  const token = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })}.${b64({
    iss: 'https://tether.example.com', sub: 'alice', aud: 'https://prod-api.example.com', iat: 1_800_000_000,
    exp: 1_800_000_300, jti: '0f0c6a8e-7c55-4b8e-9d2a-3f1e5f2b9c11', client_id: 'tether-cli', scope: 'deploy read',
    auth_time: 1_799_999_700, sid: 'grant-1', cnf: { jkt }, device_class: 'managed', device_enrolled: true,
  })}`;
  const proof = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: 'x'.repeat(43), y: 'y'.repeat(43) } })}.${b64({
    jti: 'b8f1c7a2-5d4e-4f3a-9c2b-1a0e9d8c7b6a', htm: 'POST', htu: 'https://prod-api.example.com/v1/deployments',
    iat: 1_800_000_000, ath: 'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo',
  })}`;
  return { token: Buffer.from(token), proof: Buffer.from(proof), claims: JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) };
}

/** Runs `fn` for `ms` of wall time in batches; returns calls per wall second and per CPU second of this process. */
function measure(fn, ms) {
  const batch = 200;
  let calls = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(ms) * 1_000_000n;
  let now = t0;
  while (now < end) {
    for (let i = 0; i < batch; i++) fn();
    calls += batch;
    now = process.hrtime.bigint();
  }
  const wall = Number(now - t0) / 1e9;
  const cpuUsed = process.cpuUsage(cpu0);
  const cpu = (cpuUsed.user + cpuUsed.system) / 1e6;
  return { perWallSecond: calls / wall, perCpuSecond: calls / cpu };
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/**
 * Measures, in one run: Cedar decisions/s for the guard's check (with and without Cedar's per-request schema
 * check), ES256 verifications/s, and what they mean per API request (one decision vs two verifications).
 */
export async function runPolicyBench({ seconds = 6, rounds = 6 } = {}) {
  const { PolicyEngine } = await import(new URL('engine.js', dist));
  const { apiRequestInput } = await import(new URL('api-input.js', dist));

  const { token, proof, claims } = signingInputs();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = { key: publicKey, dsaEncoding: 'ieee-p1363' };
  const tokenSig = sign('sha256', token, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const proofSig = sign('sha256', proof, { key: privateKey, dsaEncoding: 'ieee-p1363' });

  // The engine as a guard runs it: the request carries what the policies read; Cedar evaluates every decision
  // (cache off) or an identical request reuses the answer (cache on, the default). For comparison, the full
  // context with Cedar's per-request schema check.
  const lean = PolicyEngine.withDefaultPack({ cacheSize: 0 });
  const cached = PolicyEngine.withDefaultPack();
  const checked = PolicyEngine.withDefaultPack({ checkRequests: true, cacheSize: 0 });
  // What a guard does after verification: turn the verified claims and the request into the policy input.
  const resource = { uri: 'https://prod-api.example.com', tier: 'high' };
  const input = () =>
    apiRequestInput({
      claims,
      method: 'POST',
      url: 'https://prod-api.example.com/v1/deployments',
      ip: '203.0.113.20',
      userAgent: 'tether-cli/0.1.0',
      resource,
      now: 1_800_000_100,
    });

  // Each must be correct before it is fast.
  for (const engine of [lean, cached, checked]) {
    const first = engine.decide(input());
    if (first.decision !== 'allow') throw new Error(`the benchmark request should be allowed: ${JSON.stringify(first)}`);
  }
  if (!verify('sha256', token, key, tokenSig) || !verify('sha256', proof, key, proofSig)) throw new Error('signatures do not verify');

  const cases = {
    decision: () => lean.decide(input()),
    decisionCached: () => cached.decide(input()),
    decisionChecked: () => checked.decide(input()),
    verify: () => verify('sha256', token, key, tokenSig),
  };
  // Warm the JIT and Cedar's caches, then interleave rounds so that background load falls on every case alike.
  for (const fn of Object.values(cases)) measure(fn, 300);
  const slice = Math.max(100, Math.round((seconds * 1000) / (rounds * Object.keys(cases).length)));
  const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(cases)) samples[name].push(measure(fn, slice));
  }
  const rate = (name) => ({
    perWallSecond: median(samples[name].map((s) => s.perWallSecond)),
    perCpuSecond: median(samples[name].map((s) => s.perCpuSecond)),
  });
  const decisions = rate('decision');
  const decisionsChecked = rate('decisionChecked');
  const decisionsCached = rate('decisionCached');
  const verifications = rate('verify');
  // Per request: one decision against two verifications. CPU-second rates are the steadier figure on a shared box.
  const perRequestMicros = {
    policy: 1e6 / decisions.perCpuSecond,
    policyChecked: 1e6 / decisionsChecked.perCpuSecond,
    policyCached: 1e6 / decisionsCached.perCpuSecond,
    signatures: (2 * 1e6) / verifications.perCpuSecond,
  };
  return {
    cedar: (await import(new URL('cedar.js', dist))).cedarVersion(),
    decisions,
    decisionsChecked,
    decisionsCached,
    verifications,
    perRequestMicros,
    policyToSignatureRatio: perRequestMicros.policy / perRequestMicros.signatures,
    policyCheckedToSignatureRatio: perRequestMicros.policyChecked / perRequestMicros.signatures,
    policyCachedToSignatureRatio: perRequestMicros.policyCached / perRequestMicros.signatures,
  };
}

/** The report lines for a result of {@link runPolicyBench}. */
export function formatPolicyBench(r) {
  const n = (v) => Math.round(v).toLocaleString('en-US');
  const us = (v) => `${v.toFixed(1)} µs`;
  const row = (label, rate, micros, note = '') =>
    `  ${label.padEnd(46)} ${n(rate.perCpuSecond).padStart(8)} /CPU-s ${`(${n(rate.perWallSecond)} /s wall)`.padEnd(18)} ${us(micros).padStart(9)} per request${note}`;
  return [
    `Guard request-time check: Cedar ${r.cedar}, default pack, action CallResource; one process, interleaved rounds`,
    row('policy decisions, each evaluated by Cedar', r.decisions, r.perRequestMicros.policy),
    row('policy decisions, repeated request (cached)', r.decisionsCached, r.perRequestMicros.policyCached),
    row('policy decisions, full context + schema check', r.decisionsChecked, r.perRequestMicros.policyChecked),
    row('ES256 signature verifications', r.verifications, r.perRequestMicros.signatures, ' (2: access token + DPoP proof)'),
    `  policy / signatures, per request: ${r.policyToSignatureRatio.toFixed(2)} evaluated, ${r.policyCachedToSignatureRatio.toFixed(2)} cached, ` +
      `${r.policyCheckedToSignatureRatio.toFixed(2)} full context + schema check`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '6' }, json: { type: 'boolean', default: false } } });
  const result = await runPolicyBench({ seconds: Number(values.seconds) });
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${formatPolicyBench(result)}\n`);
}
