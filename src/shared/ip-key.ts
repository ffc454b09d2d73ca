import { isIP } from 'node:net';

/** The 16 bytes of an IPv6 address; an IPv4 address as its IPv4-mapped form (::ffff:a.b.c.d). Null for anything else. */
function bytesOf(ip: string): Uint8Array | null {
  const version = isIP(ip);
  if (version === 4) return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip.split('.').map(Number)]);
  if (version !== 6) return null;
  let text = ip.split('%')[0]!.toLowerCase();
  const bytes: number[] = [];
  // A trailing dotted quad (::ffff:192.0.2.1) becomes two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const parts = quad[1]!.split('.').map(Number);
    text = `${text.slice(0, -quad[1]!.length)}${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const groups = (part: string | undefined | null) => (part ? part.split(':').filter((group) => group !== '') : []);
  const left = groups(head);
  const right = groups(tail);
  const missing = 8 - left.length - right.length;
  const all = tail === null ? left : [...left, ...Array<string>(missing).fill('0'), ...right];
  if (all.length !== 8) return null;
  for (const group of all) {
    const value = parseInt(group, 16);
    bytes.push(value >> 8, value & 0xff);
  }
  return Uint8Array.from(bytes);
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * An IP address as 32 hex digits that sort in address order (IPv4 as
 * IPv4-mapped IPv6), so a CIDR block is one range of keys: indexable in any
 * database. Null for what is not an IP address.
 */
export function ipKey(ip: string | null): string | null {
  if (ip === null) return null;
  const bytes = bytesOf(ip);
  return bytes ? hex(bytes) : null;
}

/** The first and last key of a CIDR block (`198.51.100.0/24`, `2001:db8::/32`) or of one address; null when it is neither. */
export function cidrRange(cidr: string): { from: string; to: string } | null {
  const [address, prefixText] = cidr.split('/');
  const bytes = bytesOf(address ?? '');
  if (!bytes) return null;
  const v4 = isIP(address!) === 4;
  const max = v4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return null;
  const bits = (v4 ? 96 : 0) + prefix;
  const low = Uint8Array.from(bytes);
  const high = Uint8Array.from(bytes);
  for (let bit = bits; bit < 128; bit += 1) {
    const index = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    low[index]! &= ~mask;
    high[index]! |= mask;
  }
  return { from: hex(low), to: hex(high) };
}
