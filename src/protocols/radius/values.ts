import { isIPv4 } from 'node:net';
import { valueBounds, type NamedSpec, type ValueKind } from './dictionary.js';
import { RadiusError } from './errors.js';

/** What a value of each kind reads as. */
export interface KindValue {
  text: string;
  string: Buffer;
  address: string;
  integer: number;
  time: Date;
  vsa: Buffer;
}

/** What a value of each kind may be built from (`string` also takes text, written as UTF-8). */
export interface KindInput {
  text: string;
  string: Buffer | string;
  address: string;
  integer: number;
  time: Date;
  vsa: Buffer;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text, or null when the octets are not UTF-8. */
export function utf8Text(octets: Buffer): string | null {
  try {
    return utf8.decode(octets);
  } catch {
    return null;
  }
}

/**
 * Checks a value against its dictionary entry: its length bounds and, for
 * text, that it is UTF-8 (RFC 2865 §5 "text"). The decoder calls it for every
 * known attribute, so what reads a decoded packet never meets a bad value.
 */
export function checkValue(spec: NamedSpec, value: Buffer, offset?: number): void {
  const { min, max, multipleOf } = valueBounds(spec);
  if (value.length < min || value.length > max) throw badValue(spec, offset, `has ${value.length} octets, outside ${min}-${max}`);
  if (value.length % multipleOf !== 0) throw badValue(spec, offset, `has ${value.length} octets, not a multiple of ${multipleOf}`);
  if (spec.kind === 'text' && utf8Text(value) === null) throw badValue(spec, offset, 'is not UTF-8 text');
}

// Messages are built only on refusal: checkValue runs for every attribute of every datagram.
function badValue(spec: NamedSpec, offset: number | undefined, why: string): RadiusError {
  return new RadiusError('bad_attribute_value', `${spec.name} ${why}`, { attribute: spec.name, offset });
}

/** Reads a value that `checkValue` accepted. */
export function decodeValue<K extends ValueKind>(kind: K, value: Buffer): KindValue[K] {
  const decoded: { [P in ValueKind]: () => KindValue[P] } = {
    text: () => utf8.decode(value),
    string: () => value,
    address: () => `${value[0]}.${value[1]}.${value[2]}.${value[3]}`,
    integer: () => value.readUInt32BE(0),
    time: () => new Date(value.readUInt32BE(0) * 1000),
    vsa: () => value,
  };
  return decoded[kind]();
}

/** Writes a value for an attribute, refusing what its type cannot carry (the input is checked at run time too: configuration gives untyped values). */
export function encodeValue(spec: NamedSpec, input: KindInput[ValueKind]): Buffer {
  const octets = toOctets(spec, input);
  const { max } = valueBounds(spec);
  if (octets.length > max) throw new RadiusError('attribute_too_long', `${spec.name} would have ${octets.length} octets, more than ${max}`, { attribute: spec.name });
  checkValue(spec, octets);
  return octets;
}

function toOctets(spec: NamedSpec, input: unknown): Buffer {
  const wrong = () => new RadiusError('bad_attribute_value', `${spec.name} cannot hold that value (${spec.kind})`, { attribute: spec.name });
  switch (spec.kind) {
    case 'text':
      if (typeof input !== 'string') throw wrong();
      return Buffer.from(input, 'utf8');
    case 'string':
    case 'vsa':
      if (Buffer.isBuffer(input)) return input;
      if (typeof input === 'string' && spec.kind === 'string') return Buffer.from(input, 'utf8');
      throw wrong();
    case 'address':
      if (typeof input !== 'string' || !isIPv4(input)) throw wrong();
      return Buffer.from(input.split('.').map(Number));
    case 'integer':
      if (typeof input !== 'number' || !Number.isInteger(input) || input < 0 || input > 0xffff_ffff) throw wrong();
      return uint32(input);
    case 'time': {
      const seconds = input instanceof Date ? Math.floor(input.getTime() / 1000) : Number.NaN;
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > 0xffff_ffff) throw wrong();
      return uint32(seconds);
    }
  }
}

function uint32(value: number): Buffer {
  const octets = Buffer.alloc(4);
  octets.writeUInt32BE(value, 0);
  return octets;
}
