// R_sign and R_verify of the ceilings: ES256 (P-256, SHA-256) with node:crypto alone, over JWS inputs of the size
// Tether signs (an access token) and verifies (a DPoP proof). Each message from the parent runs one window of
// sign then verify and answers with both rates per CPU-second (and per wall-second).
import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicKey = createPublicKey(privateKey);
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const inputs = Array.from({ length: 5_000 }, () =>
  Buffer.from(`${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'x'.repeat(43) })}.${b64({ iss: 'http://127.0.0.1:1', sub: 'alice', aud: 'https://api', jti: randomUUID(), cnf: { jkt: 'y'.repeat(43) }, scope: 'read', iat: 1, exp: 2 })}`),
);
const signatures = inputs.map((data) => sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));

function rate(seconds, op) {
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const cpu = process.cpuUsage();
  while (performance.now() < end) for (let i = 0; i < 200; i++, n++) op(n % inputs.length);
  const used = process.cpuUsage(cpu);
  return { rate: n / ((performance.now() - start) / 1000), perCpuSecond: n / ((used.user + used.system) / 1e6) };
}

const signOne = (i) => sign('sha256', inputs[i], { key: privateKey, dsaEncoding: 'ieee-p1363' });
const verifyOne = (i) => {
  if (!verify('sha256', inputs[i], { key: publicKey, dsaEncoding: 'ieee-p1363' }, signatures[i])) throw new Error('bad signature');
};
rate(0.5, signOne);
rate(0.5, verifyOne);
process.send({ ready: true });
process.on('message', ({ seconds }) => process.send({ sign: rate(seconds / 2, signOne), verify: rate(seconds / 2, verifyOne) }));
process.once('SIGTERM', () => process.exit(0));
