import type { MethodName, MethodResponse } from '../methods/contract.js';
import type { RequestContext } from './records.js';

export interface AuthRequest extends RequestContext {
  username: string;
  /** A remembered-device token the application kept from an earlier sign-in of this user. */
  rememberToken?: string;
  /** A signed JWT with an MFA claim from a trusted issuer. */
  claimToken?: string;
  /** One of the user's app passwords (legacy clients). */
  appPassword?: string;
  /** The user asked this device to remember MFA: a successful MFA answers with a remembered-device token when the policy allows. */
  remember?: boolean;
  /**
   * A proof of identity (self-service password reset): a method must prove
   * the user, whatever conditional access or the per-user MFA state would
   * skip, and nothing satisfies MFA without one (no bypass, cache, remembered
   * device, app password, broker or claim). A blocking policy still blocks.
   */
  proof?: boolean;
}

export interface AuthInput extends AuthRequest, MethodResponse {
  /** `auto` picks the user's default method, else the first one registered. */
  factor: 'auto' | MethodName;
  device?: string;
}
