/**
 * Whether `url` lies inside the API named by `resource`: same scheme, host and port, and a path at or below the
 * resource's path (on a segment boundary, so /api does not cover /api-admin). A token is attached to nothing else.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 */
export function isWithinResource(url: string, resource: string): boolean {
  let target: URL;
  let base: URL;
  try {
    target = new URL(url);
    base = new URL(resource);
  } catch {
    return false;
  }
  if (target.protocol !== base.protocol || target.host !== base.host) return false;
  if (target.username || target.password) return false;
  const prefix = base.pathname.replace(/\/+$/, '');
  return prefix === '' || target.pathname === prefix || target.pathname.startsWith(`${prefix}/`);
}

/** The resource URL that `pathAndQuery` (as sent to the proxy's base URL) stands for. */
export function resolveUnderResource(resource: string, pathAndQuery: string): string {
  const base = resource.replace(/\/+$/, '');
  const rest = pathAndQuery === '' || pathAndQuery.startsWith('/') || pathAndQuery.startsWith('?') ? pathAndQuery : `/${pathAndQuery}`;
  return new URL(`${base}${rest}`).href;
}
