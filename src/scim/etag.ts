/**
 * Versions as entity tags: `meta.version` and the ETag header carry `W/"n"` for version n. Weak, because the JSON
 * of one version may be serialized differently (RFC 7644 §3.14).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.14
 */
export function etagOf(version: number): string {
  return `W/"${version}"`;
}

/**
 * Whether an If-Match / If-None-Match header names this version: `*`, or a comma-separated list of tags compared
 * weakly (RFC 9110 §8.8.3.2), so `W/"3"` and `"3"` both name version 3.
 */
export function etagMatches(header: string, version: number): boolean {
  const wanted = `"${version}"`;
  return header
    .split(',')
    .map((t) => t.trim())
    .some((t) => t === '*' || (t.startsWith('W/') ? t.slice(2) : t) === wanted);
}

/**
 * The version an If-Match header requires, for the store's conditional write: undefined when there is none (or it
 * is `*`), or the number when the header names exactly the current version; `false` when it names another.
 */
export function requiredVersion(ifMatch: string | undefined, current: number): number | undefined | false {
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  return etagMatches(ifMatch, current) ? current : false;
}
