/**
 * What checking a one-shot proof or assertion needs: claim its id until it could no longer be accepted anyway. The
 * in-process ReplayCache answers at once; a store shared by several instances (one database) answers after a
 * round trip.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export interface ReplayGuard {
  /** Records `key` until `until` (seconds since the epoch); false when it was already recorded (a replay). */
  claim(key: string, until: number): boolean | Promise<boolean>;
}
