/**
 * AuthZEN entities ⇄ Charter ids (docs/authzen.md, "Identifiers").
 *
 * - An `id` that is already a URI with an authority (`scheme://...`: SPIFFE IDs, UONs, URLs) is
 *   globally unique by itself and is used as is; the `type` is not part of the Charter id.
 * - Any other `id` is scoped by its `type` (AuthZEN: "unique identifier ... scoped to the type"),
 *   so the Charter id is `<type>/<id>`: the type is the first path segment, which lets rules
 *   match by type with the ordinary segment patterns (`todo/*`, `user/**`) and lets the
 *   resource index find candidates by type without a scan.
 * - The type is percent-encoded outside the RFC 3986 unreserved set, so it is always exactly
 *   one segment and never contains ':'. A `<type>/<id>` id therefore never looks like
 *   `scheme://...`, and the two forms cannot collide.
 */

const URI_WITH_AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const UNRESERVED = /^[A-Za-z0-9._~-]+$/;
const NOT_UNRESERVED = /[^A-Za-z0-9._~-]/gu;

export function isUriId(id: string): boolean {
  return URI_WITH_AUTHORITY.test(id);
}

/** The type as one path segment: percent-encoded (UTF-8) outside the unreserved set. */
export function encodeType(type: string): string {
  if (UNRESERVED.test(type)) return type;
  return type.replace(NOT_UNRESERVED, (ch) => {
    let out = '';
    for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    return out;
  });
}

/** The Charter id (actor or resource) of an AuthZEN subject or resource. */
export function toCharterId(type: string, id: string): string {
  if (URI_WITH_AUTHORITY.test(id)) return id;
  return `${encodeType(type)}/${id}`;
}

/** The prefix every type-scoped Charter id of `type` starts with. */
export function typePrefix(type: string): string {
  return `${encodeType(type)}/`;
}

/**
 * The AuthZEN `id` of a Charter id known to be of `type`: the part after the type segment, or
 * the whole id in URI form. Undefined when the id belongs to another type.
 */
export function authzenIdOf(charterId: string, type: string, prefix = typePrefix(type)): string | undefined {
  if (charterId.startsWith(prefix)) return charterId.slice(prefix.length) || undefined;
  return undefined;
}
