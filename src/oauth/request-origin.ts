/**
 * Where a request to the authorization server came from, as the audit and policy record it: the device's request,
 * its token polls, the approving person's browser. (A guard's `RequestContext` is something else: the method and
 * path of an API request.)
 */
export interface RequestOrigin {
  ip: string;
  /** The `User-Agent` header, truncated; empty when none was sent. */
  userAgent: string;
}
