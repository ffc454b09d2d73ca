/**
 * The small RADIUS dictionary Countersign speaks: packet codes, the
 * attributes it reads or writes, and the Microsoft vendor attributes that
 * tell MS-CHAP apart (RFC 2548). Names are the ones FreeRADIUS and NAS
 * documentation use, so a client's "attributes to return" can name them.
 */

/** Packet codes (RFC 2865 §3, RFC 2866 §3, RFC 5997 §3). */
export const CODES = {
  ACCESS_REQUEST: 1,
  ACCESS_ACCEPT: 2,
  ACCESS_REJECT: 3,
  ACCOUNTING_REQUEST: 4,
  ACCOUNTING_RESPONSE: 5,
  ACCESS_CHALLENGE: 11,
  STATUS_SERVER: 12,
} as const;

export type PacketCode = (typeof CODES)[keyof typeof CODES];
export type RequestCode = typeof CODES.ACCESS_REQUEST | typeof CODES.ACCOUNTING_REQUEST | typeof CODES.STATUS_SERVER;
export type ReplyCode = typeof CODES.ACCESS_ACCEPT | typeof CODES.ACCESS_REJECT | typeof CODES.ACCESS_CHALLENGE | typeof CODES.ACCOUNTING_RESPONSE;

export const CODE_NAMES: Record<PacketCode, string> = {
  1: 'Access-Request',
  2: 'Access-Accept',
  3: 'Access-Reject',
  4: 'Accounting-Request',
  5: 'Accounting-Response',
  11: 'Access-Challenge',
  12: 'Status-Server',
};

const REQUEST_CODES: ReadonlySet<number> = new Set([CODES.ACCESS_REQUEST, CODES.ACCOUNTING_REQUEST, CODES.STATUS_SERVER]);
const REPLY_CODES: ReadonlySet<number> = new Set([CODES.ACCESS_ACCEPT, CODES.ACCESS_REJECT, CODES.ACCESS_CHALLENGE, CODES.ACCOUNTING_RESPONSE]);

export function isPacketCode(code: number): code is PacketCode {
  return code in CODE_NAMES;
}
export function isRequestCode(code: number): code is RequestCode {
  return REQUEST_CODES.has(code);
}
export function isReplyCode(code: number): code is ReplyCode {
  return REPLY_CODES.has(code);
}

/**
 * Value types of RFC 2865 §5 (named as in RFC 8044): `text` is UTF-8,
 * `string` any octets, `address` an IPv4 address, `integer` an unsigned
 * 32-bit number, `time` seconds since 1970 UTC; `vsa` is the Vendor-Specific
 * envelope of §5.26.
 */
export type ValueKind = 'text' | 'string' | 'address' | 'integer' | 'time' | 'vsa';

export interface AttributeSpec {
  readonly type: number;
  readonly kind: ValueKind;
  /** At most one in a packet (RFC 2865 §5.44 "0-1" where a second copy would be ambiguous or an attack). */
  readonly once?: boolean;
  /** Value length bounds in octets; defaults come from the kind (`text`/`string` 1-253, fixed kinds 4). */
  readonly min?: number;
  readonly max?: number;
  readonly multipleOf?: number;
}

/** RFC 2865, 2866, 2869 and 3579 attributes the server reads or returns. */
export const ATTRIBUTES = {
  'User-Name': { type: 1, kind: 'text', once: true },
  // §5.2: 16 to 128 octets, a multiple of 16.
  'User-Password': { type: 2, kind: 'string', once: true, min: 16, max: 128, multipleOf: 16 },
  // §5.3: the CHAP Ident and a 16-octet response.
  'CHAP-Password': { type: 3, kind: 'string', once: true, min: 17, max: 17 },
  'NAS-IP-Address': { type: 4, kind: 'address', once: true },
  'NAS-Port': { type: 5, kind: 'integer', once: true },
  'Service-Type': { type: 6, kind: 'integer', once: true },
  'Framed-Protocol': { type: 7, kind: 'integer' },
  'Framed-IP-Address': { type: 8, kind: 'address' },
  'Framed-IP-Netmask': { type: 9, kind: 'address' },
  'Framed-Routing': { type: 10, kind: 'integer' },
  'Filter-Id': { type: 11, kind: 'text' },
  'Framed-MTU': { type: 12, kind: 'integer' },
  'Framed-Compression': { type: 13, kind: 'integer' },
  'Login-IP-Host': { type: 14, kind: 'address' },
  'Login-Service': { type: 15, kind: 'integer' },
  'Reply-Message': { type: 18, kind: 'text' },
  'State': { type: 24, kind: 'string', once: true },
  'Class': { type: 25, kind: 'string' },
  // §5.26: a 4-octet Vendor-Id and at least one octet after it.
  'Vendor-Specific': { type: 26, kind: 'vsa', min: 5 },
  'Session-Timeout': { type: 27, kind: 'integer' },
  'Idle-Timeout': { type: 28, kind: 'integer' },
  'Called-Station-Id': { type: 30, kind: 'text' },
  'Calling-Station-Id': { type: 31, kind: 'text' },
  'NAS-Identifier': { type: 32, kind: 'text' },
  'Proxy-State': { type: 33, kind: 'string' },
  'Acct-Status-Type': { type: 40, kind: 'integer' },
  'Acct-Session-Id': { type: 44, kind: 'text' },
  'Event-Timestamp': { type: 55, kind: 'time' },
  // §5.40: "Length >= 7", so at least 5 octets of challenge.
  'CHAP-Challenge': { type: 60, kind: 'string', once: true, min: 5 },
  'NAS-Port-Type': { type: 61, kind: 'integer' },
  'Connect-Info': { type: 77, kind: 'text' },
  'EAP-Message': { type: 79, kind: 'string' },
  // RFC 3579 §3.2: always 16 octets; RFC 3579 allows 0-1 in every packet.
  'Message-Authenticator': { type: 80, kind: 'string', once: true, min: 16, max: 16 },
  'NAS-Port-Id': { type: 87, kind: 'text' },
} as const satisfies Record<string, AttributeSpec>;

export type AttributeName = keyof typeof ATTRIBUTES;

/** The attribute numbers the codec itself refers to. */
export const TYPES = {
  USER_NAME: ATTRIBUTES['User-Name'].type,
  USER_PASSWORD: ATTRIBUTES['User-Password'].type,
  CHAP_PASSWORD: ATTRIBUTES['CHAP-Password'].type,
  REPLY_MESSAGE: ATTRIBUTES['Reply-Message'].type,
  STATE: ATTRIBUTES['State'].type,
  VENDOR_SPECIFIC: ATTRIBUTES['Vendor-Specific'].type,
  PROXY_STATE: ATTRIBUTES['Proxy-State'].type,
  CHAP_CHALLENGE: ATTRIBUTES['CHAP-Challenge'].type,
  EAP_MESSAGE: ATTRIBUTES['EAP-Message'].type,
  MESSAGE_AUTHENTICATOR: ATTRIBUTES['Message-Authenticator'].type,
} as const;

/** Microsoft's vendor attributes (RFC 2548), enough to recognise MS-CHAP v1 and v2. */
export const MICROSOFT = 311;
export const MICROSOFT_ATTRIBUTES = {
  // Ident, Flags, LM-Response (24), NT-Response (24).
  'MS-CHAP-Response': { type: 1, kind: 'string', min: 50, max: 50 },
  'MS-CHAP-Error': { type: 2, kind: 'string' },
  // 8 octets for MS-CHAP v1, 16 for v2: checked where the version is known (credentials.ts).
  'MS-CHAP-Challenge': { type: 11, kind: 'string' },
  // Ident, Flags, Peer-Challenge (16), Reserved (8), Response (24).
  'MS-CHAP2-Response': { type: 25, kind: 'string', min: 50, max: 50 },
  'MS-CHAP2-Success': { type: 26, kind: 'string' },
} as const satisfies Record<string, AttributeSpec>;

export type MicrosoftAttributeName = keyof typeof MICROSOFT_ATTRIBUTES;

/** Vendors whose sub-attributes are checked when a packet is decoded, by Vendor-Id. */
export const KNOWN_VENDORS: ReadonlyMap<number, { name: string; attributes: ReadonlyMap<number, NamedSpec> }> = new Map([
  [MICROSOFT, { name: 'Microsoft', attributes: byType(MICROSOFT_ATTRIBUTES) }],
]);

export interface NamedSpec extends AttributeSpec {
  readonly name: string;
}

function byType(table: Record<string, AttributeSpec>): ReadonlyMap<number, NamedSpec> {
  return new Map(Object.entries(table).map(([name, spec]) => [spec.type, { ...spec, name }]));
}

const BY_TYPE = byType(ATTRIBUTES);

/** The dictionary entry of an attribute number, or undefined for one the dictionary does not name. */
export function attributeSpec(type: number): NamedSpec | undefined {
  return BY_TYPE.get(type);
}

/** An attribute's name for messages: its dictionary name or `Attr-N`, as FreeRADIUS prints unknown ones. */
export function attributeName(type: number): string {
  return BY_TYPE.get(type)?.name ?? `Attr-${type}`;
}

/** Looks an attribute up by the name a configuration gives (exact spelling). */
export function attributeNamed(name: string): NamedSpec | undefined {
  return Object.hasOwn(ATTRIBUTES, name) ? { ...ATTRIBUTES[name as AttributeName], name } : undefined;
}

/** The largest value one attribute carries: its Length octet counts the two header octets. */
export const MAX_VALUE_LENGTH = 253;

/** The inclusive bounds and step a value of this spec must keep. */
export function valueBounds(spec: AttributeSpec): { min: number; max: number; multipleOf: number } {
  const fixed = spec.kind === 'address' || spec.kind === 'integer' || spec.kind === 'time';
  return {
    min: spec.min ?? (fixed ? 4 : 1),
    max: spec.max ?? (fixed ? 4 : MAX_VALUE_LENGTH),
    multipleOf: spec.multipleOf ?? 1,
  };
}
