// One device authorization and one DPoP poll by hand before any load, so a misconfigured server stops the bench
// with its actual answer instead of producing a fast but meaningless figure.
import { signProofs } from './dpop-proofs.mjs';
import { DEVICE_CODE_GRANT } from './servers.mjs';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export async function preflight(server, { clientId, keys }) {
  const started = await fetch(server.endpoints.deviceAuthorization, {
    method: 'POST',
    headers: { ...FORM, 'x-forwarded-for': '192.0.2.1' },
    body: new URLSearchParams({ client_id: clientId }),
  });
  const body = await started.text();
  const deviceCode = started.status === 200 ? JSON.parse(body).device_code : undefined;
  if (!deviceCode) throw new Error(`${server.name} device authorization answered ${started.status}: ${body}`);

  const [proof] = await signProofs({ keys, htu: server.endpoints.token, from: 0, count: 1, devices: 1, devicesPerKey: 1 });
  const polled = await fetch(server.endpoints.token, {
    method: 'POST',
    headers: { ...FORM, dpop: proof },
    body: new URLSearchParams({ grant_type: DEVICE_CODE_GRANT, client_id: clientId, device_code: deviceCode }),
  });
  const answer = await polled.text();
  if (polled.status !== 400 || !answer.includes('"authorization_pending"')) {
    throw new Error(`${server.name} pending poll with DPoP answered ${polled.status}: ${answer}`);
  }
}
