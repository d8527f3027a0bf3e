import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP } from 'node:net';

/**
 * Telling public addresses from private ones, so that a URL a client gives
 * (a completion webhook's destination) cannot reach the fleet's own network:
 * loopback, private ranges, link-local (cloud metadata at 169.254.169.254),
 * carrier-grade NAT, and the IPv6 forms that embed an IPv4 address.
 */

/** Why an address is not public, or `undefined` when it is. */
export type AddressClass =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'shared'
  | 'multicast'
  | 'reserved'
  | undefined;

type V4Rule = readonly [base: number, bits: number, kind: Exclude<AddressClass, undefined>];

const v4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

const V4_RULES: readonly V4Rule[] = [
  [v4(0, 0, 0, 0), 8, 'unspecified'],
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(100, 64, 0, 0), 10, 'shared'],
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'],
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 0, 0, 0), 24, 'reserved'],
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(198, 18, 0, 0), 15, 'reserved'],
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'],
];

function classifyV4(value: number): AddressClass {
  for (const [base, bits, kind] of V4_RULES) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((value & mask) >>> 0 === base) return kind;
  }
  return undefined;
}

function parseV4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  const [a, b, c, d] = parts.map(Number) as [number, number, number, number];
  return v4(a, b, c, d);
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted quad allowed), or `undefined`. */
function parseV6(text: string): number[] | undefined {
  let address = text.replace(/%.*$/, '');
  const tail: number[] = [];
  const quad = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (quad?.[1]) {
    const value = parseV4(quad[1]);
    if (value === undefined) return undefined;
    tail.push(value >>> 16, value & 0xffff);
    address = address.slice(0, -quad[1].length);
    if (address.endsWith(':') && !address.endsWith('::')) address = address.slice(0, -1);
  }
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  const width = 8 - tail.length;
  const missing = width - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const hex = [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill('0'), ...rest];
  if (!hex.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return [...hex.map((g) => Number.parseInt(g, 16)), ...tail];
}

function classifyV6(g: number[]): AddressClass {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const embedded = (g6 * 0x10000 + g7) >>> 0;
  const firstFive = g0 | g1 | g2 | g3 | g4;
  if (firstFive === 0 && g5 === 0 && g6 === 0 && g7 === 0) return 'unspecified';
  if (firstFive === 0 && g5 === 0 && g6 === 0 && g7 === 1) return 'loopback';
  // ::ffff:a.b.c.d (IPv4-mapped) and ::a.b.c.d (IPv4-compatible): the IPv4 address decides.
  if (firstFive === 0 && (g5 === 0xffff || g5 === 0)) return classifyV4(embedded);
  // 64:ff9b::/96 (NAT64) carries an IPv4 address in its last 32 bits.
  if (g0 === 0x64 && g1 === 0xff9b && (g2 | g3 | g4 | g5) === 0) return classifyV4(embedded);
  // 2002::/16 (6to4) carries one in bits 16–47.
  if (g0 === 0x2002) return classifyV4((g1 * 0x10000 + g2) >>> 0);
  if ((g0 & 0xfe00) === 0xfc00) return 'private';
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local';
  if ((g0 & 0xffc0) === 0xfec0) return 'private';
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  return undefined;
}

/**
 * Why `address` (an IPv4 or IPv6 literal, brackets allowed) is not a public
 * address; `undefined` for a public one. Text that is not an IP address is
 * `reserved`: nothing unparsed is ever let through.
 */
export function classifyAddress(address: string): AddressClass {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(text.replace(/%.*$/, ''));
  if (family === 4) {
    const value = parseV4(text);
    return value === undefined ? 'reserved' : classifyV4(value);
  }
  if (family === 6) {
    const groups = parseV6(text);
    return groups === undefined ? 'reserved' : classifyV6(groups);
  }
  return 'reserved';
}

/** Whether `address` is an IP address outside every public range. */
export const isPrivateAddress = (address: string): boolean => classifyAddress(address) !== undefined;

/** The hostname of `url` when it is an IP literal (IPv6 without brackets), else `undefined`. */
export function ipLiteralOf(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) === 0 ? undefined : host;
}

/** The code of the error a {@link publicOnlyLookup} fails with. */
export const PRIVATE_ADDRESS_CODE = 'JOBFLEET_PRIVATE_ADDRESS';

/** A destination resolved to (or is) an address that is not public. */
export class PrivateAddressError extends Error {
  override name = 'PrivateAddressError';
  readonly code = PRIVATE_ADDRESS_CODE;
  constructor(
    readonly host: string,
    readonly address: string,
    readonly kind: Exclude<AddressClass, undefined>,
  ) {
    super(
      host === address
        ? `${address} is a ${kind} address; only public addresses are allowed`
        : `${host} resolves to ${address}, a ${kind} address; only public addresses are allowed`,
    );
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for `net.connect` (e.g. an undici `Agent`'s `connect.lookup`)
 * that resolves every address of a name, refuses the name when any of them is
 * not public, and hands the checked addresses to the socket: the connection
 * goes to an address that was checked, so a name that resolves differently a
 * moment later (DNS rebinding) cannot slip through.
 */
export function publicOnlyLookup(
  hostname: string,
  options: { family?: number | string; hints?: number; all?: boolean },
  callback: LookupCallback,
): void {
  const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0);
  const query: LookupAllOptions = { all: true, family, ...(options.hints ? { hints: options.hints } : {}) };
  dnsLookup(hostname, query, (error, addresses) => {
    if (error) return callback(error, []);
    for (const { address } of addresses) {
      const kind = classifyAddress(address);
      if (kind) return callback(new PrivateAddressError(hostname, address, kind), []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first)
      return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}
