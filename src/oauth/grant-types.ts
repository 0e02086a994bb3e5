/**
 * The grant types Tether's token endpoint knows, by the URI a client sends as `grant_type`. A new grant is added
 * here and registered in the composition root; the configuration schema lists the same values.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.4
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const REFRESH_TOKEN_GRANT = 'refresh_token';
export const SUPPORTED_GRANTS = [DEVICE_CODE_GRANT, REFRESH_TOKEN_GRANT] as const;

/**
 * RFC 8693 token exchange: workload federation and delegation. Not a client's grant (it is not in
 * `SUPPORTED_GRANTS`): anyone may try, and the subject token and the DPoP proof decide.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/**
 * RFC 7523 JWT bearer assertion: key-bound workloads sign one with their registered key.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1
 */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * The longest a device code lives, whatever a client is configured with. RFC 8628 §3.2 leaves `expires_in` to the
 * server; 15 minutes bounds how long a code can be phished and how long the user-code space is occupied.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.2
 */
export const MAX_DEVICE_CODE_TTL = 15 * 60;
