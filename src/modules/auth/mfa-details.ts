/**
 * SPEC.md §3: the detail a sign-in's MFA outcome is shown with. The strings
 * are exactly those administrators know from the sign-in logs.
 */
export const SATISFIED_DETAILS = [
  'completed in the cloud',
  'expired due to the policies configured on tenant',
  'registration prompted',
  'satisfied by claim in the token',
  'satisfied by claim provided by external provider',
  'satisfied by strong authentication',
  'skipped as flow exercised was Windows broker logon flow',
  'skipped due to app password',
  'skipped due to location',
  'skipped due to registered device',
  'skipped due to remembered device',
  'successfully completed',
] as const;

export const DENIED_DETAILS = [
  'authentication in-progress',
  'duplicate authentication attempt',
  'entered incorrect code too many times',
  'invalid authentication',
  'invalid mobile app verification code',
  'misconfiguration',
  'phone call went to voicemail',
  'phone number has an invalid format',
  'service error',
  "unable to reach the user's phone",
  'unable to send the mobile app notification to the device',
  'unable to send the mobile app notification',
  'user declined the authentication',
  'user did not respond to mobile app notification',
  'user does not have any verification methods registered',
  'user entered incorrect code',
  'user entered incorrect PIN',
  'user hung up the phone call without succeeding the authentication',
  'user is blocked',
  'user never entered the verification code',
  'user not found',
  'verification code already used once',
] as const;

export type SatisfiedDetail = (typeof SATISFIED_DETAILS)[number];
export type DeniedDetail = (typeof DENIED_DETAILS)[number];
export type MfaDetail = SatisfiedDetail | DeniedDetail;
