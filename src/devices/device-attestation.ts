import { decodeSegment, importPublicJwk, isJwsAlgorithm, jwkThumbprint, splitCompactJws, verifyJws } from '../dpop/jws.js';
import { ReplayCache } from '../dpop/replay-cache.js';
import { InvalidRequest } from '../oauth/errors.js';
import type { Clock } from '../shared/clock.js';

/**
 * The device statement: how a machine's long-lived device key vouches for the fresh DPoP key of one login.
 *
 * The CLI keeps one device key per machine (in the OS keychain or the agent, never in a file) and a new DPoP key
 * per login. The device authorization request carries, next to its DPoP proof, the form parameter
 * `tether_device_attestation`: a compact JWS with header `typ: tether-device+jwt`, `alg`, and the device's public
 * `jwk`, and claims `iss` (the device key's RFC 7638 thumbprint), `aud` (the issuer), `cnf.jkt` (the login key's
 * thumbprint), `iat`, `exp` (at most 60 s later) and `jti`. Policy then sees the device key's enrollment, not the
 * login key's. docs/cli.md and docs/policy.md describe the format for other clients.
 */

/** The form parameter of the device authorization request that carries the statement. */
export const DEVICE_ATTESTATION_PARAMETER = 'tether_device_attestation';
/** The JOSE `typ` of a device statement (RFC 8725 §3.11: explicit typing, so no other JWT can pass as one). */
export const DEVICE_STATEMENT_TYP = 'tether-device+jwt';
/** The longest a statement may live (`exp - iat`): long enough to reach the server, too short to collect. */
export const MAX_STATEMENT_LIFETIME = 60;
/** Clock difference tolerated on `iat` and `exp`, in seconds. */
export const STATEMENT_LEEWAY = 5;
/** Longer than any statement: a compact ES256/RSA JWS with a small header is well under this. */
const MAX_STATEMENT_LENGTH = 4096;

/** A statement that verified: the device key that made it. */
export interface VerifiedDeviceStatement {
  /** Thumbprint of the device key; whether it is trusted is the device registry's business. */
  deviceJkt: string;
  jti: string;
}

/**
 * Verifies device statements: signature by the key in the header, `iss` its thumbprint, `aud` this issuer, fresh,
 * short-lived, bound to the request's DPoP key and used once. Any failure is `invalid_request`: a client that
 * sends a statement that does not hold is broken or forging, and going on without it would hide that.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7515 (JWS), https://www.rfc-editor.org/rfc/rfc7638 (thumbprints)
 */
export class DeviceStatementVerifier {
  private readonly seen: ReplayCache;

  constructor(
    private readonly issuer: string,
    private readonly clock: Clock,
    seen?: ReplayCache,
  ) {
    this.seen = seen ?? new ReplayCache(clock);
  }

  /** @param cnfJkt the thumbprint of the key the request's DPoP proof was signed with (the login key). */
  verify(statement: string, cnfJkt: string | null): VerifiedDeviceStatement {
    if (cnfJkt === null) throw invalid('it vouches for a DPoP key, so the request needs a DPoP proof');
    if (statement.length > MAX_STATEMENT_LENGTH) throw invalid('too long');
    const jws = splitCompactJws(statement);
    if (!jws) throw invalid('not a compact JWS');
    const header = decodeSegment(jws.rawHeader);
    const claims = decodeSegment(jws.rawPayload);
    if (!header || !claims) throw invalid('unreadable header or claims');
    if (header['typ'] !== DEVICE_STATEMENT_TYP) throw invalid(`typ must be ${DEVICE_STATEMENT_TYP}`);
    const alg = header['alg'];
    if (!isJwsAlgorithm(alg)) throw invalid('alg must be an asymmetric signature algorithm');
    if ('crit' in header) throw invalid('no crit extensions are understood');
    const key = importPublicJwk(header['jwk'], alg);
    if (!key) throw invalid('jwk must be a public key for alg');
    if (!verifyJws(alg, key, jws.signingInput, jws.signature)) throw invalid('the signature does not verify');
    const deviceJkt = jwkThumbprint(header['jwk'] as Record<string, unknown>);
    if (!deviceJkt) throw invalid('jwk has no thumbprint');
    // iss names the key it claims to be; it must be the key that signed, or one device could speak for another.
    if (claims['iss'] !== deviceJkt) throw invalid('iss must be the thumbprint of the signing key');
    if (claims['aud'] !== this.issuer) throw invalid(`aud must be ${this.issuer}`);
    const cnf = claims['cnf'];
    const bound = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>)['jkt'] : undefined;
    if (bound !== cnfJkt) throw invalid('cnf.jkt must be the thumbprint of the key that signed the DPoP proof');
    const { iat, exp, jti } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp)) {
      throw invalid('iat and exp are required');
    }
    const now = this.clock.now();
    if (exp <= iat || exp - iat > MAX_STATEMENT_LIFETIME) throw invalid(`it may live at most ${MAX_STATEMENT_LIFETIME} seconds`);
    if (iat > now + STATEMENT_LEEWAY) throw invalid('iat is in the future');
    if (exp <= now - STATEMENT_LEEWAY) throw invalid('it has expired');
    if (typeof jti !== 'string' || jti.length < 8 || jti.length > 128) throw invalid('jti is required (8 to 128 characters)');
    // Scoped by device key: one device's ids cannot block another's.
    if (!this.seen.claim(`${deviceJkt}:${jti}`, exp + STATEMENT_LEEWAY)) throw invalid('it was already used');
    return { deviceJkt, jti };
  }
}

function invalid(why: string): InvalidRequest {
  return new InvalidRequest(`${DEVICE_ATTESTATION_PARAMETER} is not valid: ${why}.`);
}
