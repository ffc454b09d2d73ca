import type { RadiusAttribute } from './codec.js';
import { KNOWN_VENDORS, MAX_VALUE_LENGTH, MICROSOFT, MICROSOFT_ATTRIBUTES, TYPES, type MicrosoftAttributeName } from './dictionary.js';
import { RadiusError, refuseUnless } from './errors.js';
import { checkValue } from './values.js';

/**
 * Vendor-Specific attributes (RFC 2865 §5.26): a 4-octet Vendor-Id whose
 * high octet is 0, then, in the format the RFC suggests and every vendor we
 * read follows, sub-attributes of Vendor-Type (1), Vendor-Length (1, counting
 * both header octets) and value.
 */
export interface VendorAttribute {
  readonly vendorId: number;
  readonly type: number;
  readonly value: Buffer;
}

/** The value space of one sub-attribute when it is alone in its Vendor-Specific attribute. */
export const MAX_VENDOR_VALUE_LENGTH = MAX_VALUE_LENGTH - 4 - 2;

/**
 * Checks a Vendor-Specific value when a packet is decoded. For a vendor in
 * the dictionary (Microsoft) the sub-attributes must tile the value exactly
 * and each must be valid; another vendor's octets are kept as they came, to
 * be parsed only by whoever asks for them.
 */
export function checkVendorSpecific(value: Buffer, offset: number): void {
  const where = { attribute: 'Vendor-Specific', offset };
  refuseUnless(value.length >= 5 && value[0] === 0, 'bad_vendor_attribute', 'Vendor-Specific needs a Vendor-Id with a zero high octet and a value', where);
  const vendor = KNOWN_VENDORS.get(value.readUInt32BE(0));
  if (!vendor) return;
  for (const sub of subAttributes(value, offset)) {
    const spec = vendor.attributes.get(sub.type);
    if (spec) checkValue(spec, sub.value, offset);
  }
}

function subAttributes(value: Buffer, offset: number): VendorAttribute[] {
  const vendorId = value.readUInt32BE(0);
  const found: VendorAttribute[] = [];
  let at = 4;
  while (at < value.length) {
    const length = value[at + 1];
    refuseUnless(length !== undefined && length >= 2 && at + length <= value.length, 'bad_vendor_attribute', `a sub-attribute of vendor ${vendorId} runs past its Vendor-Specific attribute`, {
      attribute: 'Vendor-Specific',
      offset: offset + at,
    });
    found.push({ vendorId, type: value[at]!, value: value.subarray(at + 2, at + length) });
    at += length;
  }
  return found;
}

/** Every sub-attribute of one vendor, in packet order; a vendor's attribute that does not parse is refused. */
export function vendorAttributesOf(attributes: readonly RadiusAttribute[], vendorId: number): VendorAttribute[] {
  const found: VendorAttribute[] = [];
  for (const attribute of attributes) {
    if (attribute.type !== TYPES.VENDOR_SPECIFIC || attribute.value.length < 4 || attribute.value.readUInt32BE(0) !== vendorId) continue;
    found.push(...subAttributes(attribute.value, 0));
  }
  return found;
}

/** One Vendor-Specific attribute carrying one sub-attribute. */
export function vendorAttribute(vendorId: number, type: number, value: Buffer): RadiusAttribute {
  if (!Number.isInteger(vendorId) || vendorId <= 0 || vendorId > 0xff_ffff || !Number.isInteger(type) || type < 0 || type > 255) {
    throw new RadiusError('bad_vendor_attribute', `vendor ${vendorId} attribute ${type} cannot be written`, { attribute: 'Vendor-Specific' });
  }
  if (value.length > MAX_VENDOR_VALUE_LENGTH) {
    throw new RadiusError('attribute_too_long', `vendor ${vendorId} attribute ${type} would have ${value.length} octets, more than ${MAX_VENDOR_VALUE_LENGTH}`, { attribute: 'Vendor-Specific' });
  }
  const envelope = Buffer.alloc(6 + value.length);
  envelope.writeUInt32BE(vendorId, 0);
  envelope[4] = type;
  envelope[5] = value.length + 2;
  value.copy(envelope, 6);
  return { type: TYPES.VENDOR_SPECIFIC, value: envelope };
}

/** A Microsoft attribute (RFC 2548), checked like any dictionary attribute. */
export function microsoftAttribute(name: MicrosoftAttributeName, value: Buffer): RadiusAttribute {
  checkValue({ ...MICROSOFT_ATTRIBUTES[name], name }, value);
  return vendorAttribute(MICROSOFT, MICROSOFT_ATTRIBUTES[name].type, value);
}

/** The first Microsoft attribute of that name, if any. */
export function microsoftValue(attributes: readonly RadiusAttribute[], name: MicrosoftAttributeName): Buffer | undefined {
  return vendorAttributesOf(attributes, MICROSOFT).find((sub) => sub.type === MICROSOFT_ATTRIBUTES[name].type)?.value;
}
