/**
 * Conditional requests on a static file (RFC 9110 §13.2.2, in its order):
 * If-Match, then If-Unmodified-Since, give 412; If-None-Match, then
 * If-Modified-Since, give 304 (the `fresh` package, which also lets a
 * request's `Cache-Control: no-cache` ask for the full response); If-Range
 * decides whether a Range applies (§13.1.5). Only GET and HEAD come here.
 */
import fresh from 'fresh';

/** The validators of the representation: a strong ETag and Last-Modified (IMF-fixdate). */
export interface Validators {
  etag: string;
  lastModified: string;
  /** Last-Modified as seconds since the epoch. */
  mtimeSec: number;
}

/** Request header fields as lower-case names (the first value of each). */
export type FieldMap = Record<string, string | undefined>;

/** The entity-tags of a list field (If-Match, If-None-Match); '*' is kept as is. */
function tags(value: string): string[] {
  return value.split(',').map((t) => t.trim()).filter(Boolean);
}

/** Strong comparison (§8.8.3.2): both strong and the same opaque-tag. */
function strongMatch(a: string, b: string): boolean {
  return !a.startsWith('W/') && !b.startsWith('W/') && a === b;
}

/** An HTTP-date as seconds, or undefined when it is not a valid date. */
function dateSec(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** What the preconditions decide: 412, 304, or go on (200/206). */
export function evaluate(fields: FieldMap, v: Validators): 412 | 304 | undefined {
  const ifMatch = fields['if-match'];
  if (ifMatch !== undefined) {
    const list = tags(ifMatch);
    if (!list.some((t) => t === '*' || strongMatch(t, v.etag))) return 412;
  } else {
    const since = dateSec(fields['if-unmodified-since']);
    if (since !== undefined && v.mtimeSec > since) return 412;
  }
  const reqFields = fields as Record<string, string>;
  if ((fields['if-none-match'] !== undefined || fields['if-modified-since'] !== undefined)
      && fresh(reqFields, { etag: v.etag, 'last-modified': v.lastModified })) return 304;
  return undefined;
}

/**
 * Whether a Range applies under If-Range (§13.1.5): it does when there is
 * no If-Range, when If-Range is an entity-tag that strongly matches, or an
 * HTTP-date equal to Last-Modified.
 */
export function rangeApplies(fields: FieldMap, v: Validators): boolean {
  const ifRange = fields['if-range'];
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return strongMatch(value, v.etag);
  const sec = dateSec(value);
  return sec !== undefined && sec === v.mtimeSec;
}
