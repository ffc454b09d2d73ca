import { attributeName, attributeSpec, CODE_NAMES, isPacketCode, MAX_VALUE_LENGTH, TYPES, type PacketCode } from './dictionary.js';
import { RadiusError, refuseUnless } from './errors.js';
import { checkValue } from './values.js';
import { checkVendorSpecific } from './vendor.js';

/**
 * RADIUS packets on the wire (RFC 2865 §3, §5): the structure only. Which
 * authenticator a packet must carry, and what it proves, is messages.ts.
 *
 *     Code (1) | Identifier (1) | Length (2) | Authenticator (16) | Attributes
 *     Attribute: Type (1) | Length (1, counting these two octets) | Value
 */

/** RFC 2865 §3: "The maximum length is 4096." */
export const MAX_PACKET_LENGTH = 4096;
export const HEADER_LENGTH = 20;
export const AUTHENTICATOR_LENGTH = 16;

export interface RadiusAttribute {
  readonly type: number;
  readonly value: Buffer;
}

export interface RadiusPacket {
  readonly code: PacketCode;
  readonly identifier: number;
  readonly authenticator: Buffer;
  /** In packet order: RFC 2865 §5 keeps the order of attributes of one type (Proxy-State, Reply-Message, Class). */
  readonly attributes: readonly RadiusAttribute[];
  /** The packet's own octets (the first Length octets: padding after them is dropped), which the authenticators cover. */
  readonly bytes: Buffer;
}

/**
 * Reads a datagram into a packet, checking every length: the header, the
 * Length field against what arrived, each attribute against the packet's
 * end, and each dictionary attribute's value (size, UTF-8 text, single
 * occurrence, Vendor-Specific layout). Anything else is a RadiusError.
 * Octets after Length are padding and ignored (RFC 2865 §3), but a datagram
 * longer than 4096 octets is refused whatever its Length says.
 */
export function decodePacket(datagram: Uint8Array): RadiusPacket {
  refuseUnless(datagram.length >= HEADER_LENGTH, 'packet_too_short', `a datagram of ${datagram.length} octets has no RADIUS header`);
  refuseUnless(datagram.length <= MAX_PACKET_LENGTH, 'packet_too_long', `a datagram of ${datagram.length} octets is longer than ${MAX_PACKET_LENGTH}`);
  const length = (datagram[2]! << 8) | datagram[3]!;
  refuseUnless(length >= HEADER_LENGTH, 'bad_length', `the Length field says ${length}, less than the header`);
  refuseUnless(length <= datagram.length, 'truncated_packet', `the Length field says ${length} but ${datagram.length} octets arrived`);
  const code = datagram[0]!;
  refuseUnless(isPacketCode(code), 'unknown_code', `packet code ${code} is not one the server knows`);
  // One copy, so the packet's views never change under a caller that reuses its receive buffer.
  const bytes = Buffer.from(datagram.subarray(0, length));
  return {
    code,
    identifier: bytes[1]!,
    authenticator: bytes.subarray(4, HEADER_LENGTH),
    attributes: decodeAttributes(bytes),
    bytes,
  };
}

function decodeAttributes(bytes: Buffer): RadiusAttribute[] {
  const attributes: RadiusAttribute[] = [];
  const seen = new Set<number>();
  let at = HEADER_LENGTH;
  while (at < bytes.length) {
    const type = bytes[at]!;
    const length = bytes[at + 1];
    if (length === undefined) throw badAttribute('attribute_overflow', type, at, 'has no Length octet');
    if (length < 2) throw badAttribute('bad_attribute_length', type, at, `has Length ${length}`);
    if (at + length > bytes.length) throw badAttribute('attribute_overflow', type, at, `runs ${at + length - bytes.length} octets past the packet`);
    const value = bytes.subarray(at + 2, at + length);
    checkKnown(type, value, at, seen);
    attributes.push({ type, value });
    at += length;
  }
  return attributes;
}

// Messages are built only on refusal: the checks run for every attribute of every datagram.
function badAttribute(reason: 'attribute_overflow' | 'bad_attribute_length', type: number, offset: number, why: string): RadiusError {
  const name = attributeName(type);
  return new RadiusError(reason, `${name} at offset ${offset} ${why}`, { attribute: name, offset });
}

function checkKnown(type: number, value: Buffer, offset: number, seen: Set<number>): void {
  const spec = attributeSpec(type);
  if (!spec) return;
  if (spec.once && seen.has(type)) throw new RadiusError('duplicate_attribute', `${spec.name} appears more than once`, { attribute: spec.name, offset });
  seen.add(type);
  checkValue(spec, value, offset);
  if (type === TYPES.VENDOR_SPECIFIC) checkVendorSpecific(value, offset);
}

/** A packet to write: the authenticator is whatever the caller computed (messages.ts signs). */
export interface PacketFields {
  readonly code: PacketCode;
  readonly identifier: number;
  readonly authenticator: Buffer;
  readonly attributes: readonly RadiusAttribute[];
}

/**
 * Writes a packet, refusing what a receiver would refuse: a value longer than
 * 253 octets, an invalid dictionary value, a second copy of a single
 * attribute, more than 4096 octets in all.
 */
export function encodePacket(fields: PacketFields): Buffer {
  const { code, identifier, authenticator, attributes } = fields;
  refuseUnless(Number.isInteger(identifier) && identifier >= 0 && identifier <= 255, 'bad_header', `Identifier ${identifier} is not an octet`);
  refuseUnless(authenticator.length === AUTHENTICATOR_LENGTH, 'bad_header', `an authenticator of ${authenticator.length} octets, not ${AUTHENTICATOR_LENGTH}`);
  const seen = new Set<number>();
  let length = HEADER_LENGTH;
  for (const { type, value } of attributes) {
    const name = attributeName(type);
    refuseUnless(Number.isInteger(type) && type >= 0 && type <= 255, 'bad_attribute_value', `attribute type ${type} is not an octet`);
    if (value.length > MAX_VALUE_LENGTH) throw new RadiusError('attribute_too_long', `${name} would have ${value.length} octets, more than ${MAX_VALUE_LENGTH}`, { attribute: name });
    checkKnown(type, value, length, seen);
    length += 2 + value.length;
  }
  refuseUnless(length <= MAX_PACKET_LENGTH, 'packet_too_long', `the ${CODE_NAMES[code]} would have ${length} octets, more than ${MAX_PACKET_LENGTH}`);
  const bytes = Buffer.alloc(length);
  bytes[0] = code;
  bytes[1] = identifier;
  bytes.writeUInt16BE(length, 2);
  authenticator.copy(bytes, 4);
  let at = HEADER_LENGTH;
  for (const { type, value } of attributes) {
    bytes[at] = type;
    bytes[at + 1] = value.length + 2;
    value.copy(bytes, at + 2);
    at += value.length + 2;
  }
  return bytes;
}

/** Offset of the first attribute of a type in a packet's bytes, or -1: used to blank Message-Authenticator for its HMAC. */
export function offsetOf(packet: Pick<RadiusPacket, 'attributes'>, type: number): number {
  let at = HEADER_LENGTH;
  for (const attribute of packet.attributes) {
    if (attribute.type === type) return at;
    at += 2 + attribute.value.length;
  }
  return -1;
}
