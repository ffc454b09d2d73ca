import type { RadiusAttribute } from './codec.js';
import { attributeNamed, ATTRIBUTES, MAX_VALUE_LENGTH, TYPES, type AttributeName } from './dictionary.js';
import { RadiusError } from './errors.js';
import { checkValue, decodeValue, encodeValue, type KindInput, type KindValue } from './values.js';

/** Reading and writing dictionary attributes by name, with the type their name implies. */

type KindOf<N extends AttributeName> = (typeof ATTRIBUTES)[N]['kind'];
type HasAttributes = { readonly attributes: readonly RadiusAttribute[] };

function specOf<N extends AttributeName>(name: N) {
  return { ...ATTRIBUTES[name], name };
}

/** One attribute, its value checked against the dictionary (`attribute('Filter-Id', 'vpn-staff')`). */
export function attribute<N extends AttributeName>(name: N, value: KindInput[KindOf<N>]): RadiusAttribute {
  const spec = specOf(name);
  return { type: spec.type, value: encodeValue(spec, value) };
}

/**
 * An attribute named at run time, as a client's or a group's "attributes to
 * return" will name them (`Filter-Id = vpn-staff`); the value is checked
 * against the attribute's type like any other.
 */
export function attributeByName(name: string, value: KindInput[keyof KindInput]): RadiusAttribute {
  const spec = attributeNamed(name);
  if (!spec) throw new RadiusError('unknown_attribute', `${name} is not an attribute of the dictionary`, { attribute: name });
  return { type: spec.type, value: encodeValue(spec, value) };
}

/** Every value of that attribute, in packet order. */
export function all<N extends AttributeName>(packet: HasAttributes, name: N): KindValue[KindOf<N>][] {
  const spec = specOf(name);
  return packet.attributes
    .filter((found) => found.type === spec.type)
    .map((found) => {
      // A decoded packet was checked already; a packet a caller put together may not have been.
      checkValue(spec, found.value);
      return decodeValue(spec.kind, found.value) as KindValue[KindOf<N>];
    });
}

/** The first value of that attribute, or undefined. */
export function first<N extends AttributeName>(packet: HasAttributes, name: N): KindValue[KindOf<N>] | undefined {
  return all(packet, name)[0];
}

/**
 * A Reply-Message of any length as consecutive attributes of at most 253
 * octets, cut between characters (never inside a UTF-8 sequence). RFC 2865
 * §5.18 has a NAS show several in order, so `replyMessageOf` joins them back.
 */
export function replyMessages(text: string): RadiusAttribute[] {
  const octets = Buffer.from(text, 'utf8');
  const parts: RadiusAttribute[] = [];
  let start = 0;
  while (start < octets.length) {
    let end = Math.min(start + MAX_VALUE_LENGTH, octets.length);
    // 0b10xxxxxx continues a character: step back to where one begins.
    while (end < octets.length && (octets[end]! & 0xc0) === 0x80) end -= 1;
    parts.push(attribute('Reply-Message', octets.subarray(start, end).toString('utf8')));
    start = end;
  }
  return parts;
}

/** All Reply-Message attributes joined in order, or undefined when there is none. */
export function replyMessageOf(packet: HasAttributes): string | undefined {
  const parts = all(packet, 'Reply-Message');
  return parts.length === 0 ? undefined : parts.join('');
}

/** The request's Proxy-State attributes, unmodified and in order: RFC 2865 §5.33 has them copied into the reply so. */
export function proxyStates(packet: HasAttributes): RadiusAttribute[] {
  return packet.attributes.filter((found) => found.type === TYPES.PROXY_STATE);
}

/** Whether the packet carries an attribute of that name. */
export function has(packet: HasAttributes, name: AttributeName): boolean {
  const type = ATTRIBUTES[name].type;
  return packet.attributes.some((found) => found.type === type);
}
