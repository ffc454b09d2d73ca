import { AppError } from '../../shared/errors.js';

/**
 * Why the codec refused a datagram or a packet it was asked to build. RFC 2865
 * asks for most refused requests to be dropped silently, so these never reach
 * the NAS: the listener counts them by reason and logs the message, which
 * names the attribute and offset but never a secret or a password.
 */
export const RADIUS_REFUSALS = {
  packet_too_short: 'shorter than the 20-octet header',
  packet_too_long: 'longer than the 4096 octets RFC 2865 allows',
  bad_length: 'the Length field is below 20',
  truncated_packet: 'the Length field says more octets than arrived',
  unknown_code: 'a packet code the codec does not know',
  unexpected_code: 'a known code in the wrong direction (a reply where a request belongs, or the reverse)',
  bad_attribute_length: 'an attribute Length below 2',
  attribute_overflow: 'an attribute runs past the end of the packet',
  bad_attribute_value: 'a value of the wrong size or encoding for its type',
  duplicate_attribute: 'an attribute that may appear once appears again',
  bad_vendor_attribute: 'a Vendor-Specific attribute that does not follow RFC 2865 §5.26',
  missing_attribute: 'an attribute the packet needs is absent',
  missing_message_authenticator: 'no Message-Authenticator where one is required',
  bad_message_authenticator: 'the Message-Authenticator does not verify',
  bad_authenticator: 'the Request or Response Authenticator does not verify',
  identifier_mismatch: 'a response whose Identifier is not the request\'s',
  bad_user_password: 'a User-Password that does not recover to UTF-8 text',
  conflicting_credentials: 'more than one of User-Password, CHAP-Password, MS-CHAP and EAP',
  attribute_too_long: 'a value longer than an attribute can carry',
  codec_owned_attribute: 'an attribute the codec places itself (Message-Authenticator, Proxy-State) given by the caller',
  empty_secret: 'an empty shared secret',
  bad_header: 'an Identifier or authenticator that does not fit the header',
  unknown_attribute: 'an attribute name the dictionary does not have',
} as const;

export type RadiusRefusal = keyof typeof RADIUS_REFUSALS;

/**
 * The one error the codec throws: decoding never lets a RangeError or any
 * other error escape, so a listener needs one `catch` and one counter.
 * It is an AppError (code = the reason) but never exposed: nothing of it is
 * sent to a NAS.
 */
export class RadiusError extends AppError {
  readonly reason: RadiusRefusal;

  constructor(reason: RadiusRefusal, message: string, details?: { attribute?: string; offset?: number }) {
    // No stack: a refused datagram is an expected event, not a bug, and capturing a stack cost more than decoding
    // the packet (16 µs against 7), which a flood of garbage would turn into the listener's bottleneck.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(reason, message, { status: 400, expose: false, details });
    Error.stackTraceLimit = limit;
    this.name = 'RadiusError';
    this.reason = reason;
  }
}

/** Guard helper in the style of shared/errors `assert`, for the codec's own refusals. */
export function refuseUnless(
  condition: unknown,
  reason: RadiusRefusal,
  message: string,
  details?: { attribute?: string; offset?: number },
): asserts condition {
  if (!condition) throw new RadiusError(reason, message, details);
}
