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
 * The longest a device code lives, whatever a client is configured with. RFC 8628 §3.2 leaves `expires_in` to the
 * server; 15 minutes bounds how long a code can be phished and how long the user-code space is occupied.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.2
 */
export const MAX_DEVICE_CODE_TTL = 15 * 60;
