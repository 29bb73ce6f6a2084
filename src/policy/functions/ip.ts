/**
 * IP range tests for conditions. Parsing is strict on purpose: a malformed address or range is
 * an error, so an allow rule that depends on it never grants (fail closed).
 */
import { isIPv4, isIPv6 } from 'node:net';

export class InvalidAddressError extends Error {}

interface ParsedAddress {
  /** 4 or 16 bytes. */
  bytes: Uint8Array;
}

function parseIPv4(text: string): Uint8Array {
  const bytes = new Uint8Array(4);
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) bytes[i] = Number(parts[i]);
  return bytes;
}

function parseIPv6(text: string): Uint8Array {
  // Embedded IPv4 (::ffff:10.1.2.3) is rewritten as its two final hex groups first.
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    hex = `${text.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [left, right] = hex.includes('::') ? hex.split('::') : [hex, undefined];
  const leftGroups = left ? left.split(':').map((g) => parseInt(g, 16)) : [];
  const rightGroups = right ? right.split(':').map((g) => parseInt(g, 16)) : [];
  const groups = [...leftGroups, ...new Array<number>(8 - leftGroups.length - rightGroups.length).fill(0), ...rightGroups];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = groups[i] >> 8;
    bytes[2 * i + 1] = groups[i] & 0xff;
  }
  return bytes;
}

export function parseAddress(text: string): ParsedAddress {
  if (typeof text !== 'string') throw new InvalidAddressError('IP address must be a string');
  if (isIPv4(text)) return { bytes: parseIPv4(text) };
  // Zone ids (fe80::1%eth0) name an interface, not an address: refuse rather than guess.
  if (isIPv6(text) && !text.includes('%')) return { bytes: parseIPv6(text) };
  throw new InvalidAddressError(`malformed IP address '${truncate(text)}'`);
}

export interface ParsedRange {
  bytes: Uint8Array;
  prefix: number;
}

export function parseRange(text: string): ParsedRange {
  if (typeof text !== 'string') throw new InvalidAddressError('IP range must be a string');
  const slash = text.indexOf('/');
  if (slash < 0) throw new InvalidAddressError(`malformed CIDR range '${truncate(text)}': missing /prefix`);
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) throw new InvalidAddressError(`malformed CIDR range '${truncate(text)}'`);
  const { bytes } = parseAddress(text.slice(0, slash));
  const prefix = Number(prefixText);
  if (prefix > bytes.length * 8) throw new InvalidAddressError(`CIDR prefix /${prefix} is too long in '${truncate(text)}'`);
  return { bytes, prefix };
}

/** IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) compare as the IPv4 address they carry. */
function unmapped(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== 16) return bytes;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return bytes;
  if (bytes[10] !== 0xff || bytes[11] !== 0xff) return bytes;
  return bytes.subarray(12);
}

export function rangeContains(range: ParsedRange, address: ParsedAddress): boolean {
  const addr = unmapped(address.bytes);
  if (addr.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i] & mask) !== (range.bytes[i] & mask)) return false;
  }
  return true;
}

const rangeCache = new Map<string, ParsedRange>();

/** Ranges are almost always literals in policy text, so their parse is cached (bounded). */
function cachedRange(text: string): ParsedRange {
  let range = rangeCache.get(text);
  if (range === undefined) {
    range = parseRange(text);
    if (rangeCache.size > 10_000) rangeCache.clear();
    rangeCache.set(text, range);
  }
  return range;
}

export function ipInRange(ip: string, cidr: string): boolean {
  return rangeContains(cachedRange(cidr), parseAddress(ip));
}

export function ipInAnyRange(ip: string, cidrs: readonly string[]): boolean {
  const address = parseAddress(ip);
  for (const cidr of cidrs) if (rangeContains(cachedRange(cidr), address)) return true;
  return false;
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
