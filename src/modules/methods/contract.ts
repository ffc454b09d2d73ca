import type { Keyring } from '../../shared/keyring.js';
import type { Clock } from '../../shared/clock.js';
import type { Executor, Unit } from '../../storage/database.js';
import type { NewAuthAttempt, UserRow } from '../../storage/schema.js';
import type { ResultCode } from '../auth/result-codes.js';
import type { CallEvent, CallResult, CallScript } from '../telephony/gateway.js';

/**
 * Every verification method there is (SPEC.md §1): the one list routes,
 * schemas and the CLI take their names from. The order is the order in which
 * `auto` tries a user's methods when the user has no default.
 */
export const METHOD_NAMES = ['app', 'oath', 'sms', 'voice', 'questions'] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

/** What a method knows of the authentication it takes part in. */
export interface MethodContext {
  /** The engine's open transaction: a method's state changes land with the attempt record or not at all. */
  /** The authentication's unit of work: a method reads and writes only through it. */
  db: Unit;
  clock: Clock;
  keyring: Keyring;
  user: UserRow;
  application: { id: string; name: string };
  ip: string | null;
  authType: string;
  entryPoint: string;
  /** True when the method runs as fallback after a denied primary method (SPEC.md §2 SUCCESS_FALLBACK_*). */
  fallback: boolean;
  /** During fallback: the code the primary method ended with (a failed fallback without a code of its own keeps it). */
  primaryCode: ResultCode | null;
  /** The transaction id of the challenge this step belongs to (already chosen when a method starts). */
  challengeId: string;
}

/** Columns of the SPEC.md §5 attempt record a method fills (modes, phones, device...). */
export type AttemptFields = Partial<
  Pick<
    NewAuthAttempt,
    | 'call_mode'
    | 'sms_direction'
    | 'sms_mode'
    | 'app_mode'
    | 'oath_mode'
    | 'primary_country_code'
    | 'primary_phone_number'
    | 'primary_extension'
    | 'primary_authenticated'
    | 'primary_result'
    | 'backup_country_code'
    | 'backup_phone_number'
    | 'backup_extension'
    | 'backup_authenticated'
    | 'backup_result'
    | 'device'
    | 'device_token'
    | 'device_type'
    | 'app_version'
    | 'os_version'
    | 'number_matching'
  >
>;

/**
 * Something a step needs sent outside Countersign: a text message or call to
 * the carrier, a push notification to a device. The engine sends it after the
 * step's transaction commits, never inside it: the round trip would hold
 * every other authentication for that long. A refused delivery comes back to
 * the method as `MethodResponse.delivered`.
 */
export interface Delivery {
  /** What was sent, as the method knows it (a telephony log entry, a device). */
  id: string;
  challengeId: string;
  /** Sends it and records the answer. Never throws: a failure is `status: 'failed'`. */
  send(): Promise<Pick<CallResult, 'status' | 'invalidNumber'>>;
}

/**
 * What the push-fatigue defence did to a sign-in (SPEC.md §3 log): asked for
 * number matching although it is off, asked for a code instead of pushing, or
 * refused to push at all.
 */
export const PUSH_FATIGUE_ACTIONS = ['number_matching_required', 'codes_instead_of_push', 'push_limit_reached'] as const;
export type PushFatigue = (typeof PUSH_FATIGUE_ACTIONS)[number];

/** The outcome of one step of a method. */
export type StepResult =
  | {
      status: 'pending';
      /** Null while nothing has happened yet that SPEC.md §2 names (a call ringing or waiting for keys). */
      code: ResultCode | null;
      /**
       * What to ask the user ("Enter the code from your authenticator app").
       * Absent when the user answers on another channel (a reply to a text, a
       * key on a call): a synchronous Auth API call then waits for the result.
       */
      prompt?: string;
      /** Saved with the challenge and handed back to `respond` (no secrets in clear). */
      state: Record<string, unknown>;
      /** Questions to show, for the security-questions method. */
      questions?: { id: string; text: string }[];
      fields?: AttemptFields;
      /** Voice: what the call says and does next. */
      script?: CallScript;
      /** A message or call to hand to the carrier once this step is committed. */
      delivery?: Delivery;
      /** Number matching (app): the number the sign-in screen shows, which the user types into the app. */
      number?: string;
      pushFatigue?: PushFatigue;
    }
  | {
      status: 'done';
      code: ResultCode;
      authenticated: boolean;
      fields?: AttemptFields;
      /** False for denials that are not a guess by the caller (a timeout, a server error): they do not count towards throttling. */
      countsAsFailure?: boolean;
      /** Voice: what the call says before it hangs up. */
      script?: CallScript;
      pushFatigue?: PushFatigue;
    };

export interface MethodDevice {
  id: string;
  name: string;
  type: string;
}

/** What preauth tells an application about one method of a user. */
export interface MethodDescription {
  method: MethodName;
  devices: MethodDevice[];
}

/** The user's response to a pending challenge. */
export interface MethodResponse {
  passcode?: string;
  answers?: Record<string, string>;
  /** True when the passcode is the user's own message (a reply to a two-way text), not an entry the application passed on. */
  reply?: boolean;
  /** Something that happened on a call (voice): the call's telephony log id and the event. */
  call?: { id: string; event: CallEvent };
  /** An authenticator app's answer to a push, after the server checked the device's signature. */
  app?: DeviceAnswer;
  /** A delivery of this challenge was refused: its id, and whether the carrier refused the number itself. */
  delivered?: { id: string; invalidNumber: boolean };
}

/**
 * Records the user's fraud report (the voice fraud code, the app's fraud
 * button) in the authentication's transaction: a fraud-alert block record,
 * blocking the user when auth.fraudAutoBlock is on.
 */
export type ReportFraud = (db: Executor, user: UserRow, source: string) => Promise<unknown>;

/** What a device answered to a push (docs/authenticator-protocol.md). */
export interface DeviceAnswer {
  deviceId: string;
  /** False when the device's signature over the answer did not verify (or the answer was replayed). */
  verified: boolean;
  decision?: unknown;
  number?: unknown;
  pin?: unknown;
  newPin?: unknown;
}

/**
 * A verification method (SPEC.md §1). Each lives in modules/methods/<name>/
 * and exports one object that `satisfies VerificationMethod`.
 */
export interface VerificationMethod {
  readonly name: MethodName;
  /** The code a pending challenge of this method ends with when it expires. */
  readonly timeoutCode: ResultCode;
  /** When the code depends on how far the challenge got (a call ringing, or answered): the code for this saved state. */
  expiredCode?(state: Record<string, unknown>): ResultCode;
  /** Called in the transaction that ends an unanswered challenge of this method (the app counts missed pushes). */
  onExpired?(db: Unit, state: Record<string, unknown>): Promise<void>;
  /**
   * How it serves as fallback after a denied primary method, or null when it
   * cannot: the setting that allows it, what the fallback's answer carries,
   * and whether the method asks something when offered (the questions), so
   * that the answer goes to its `respond`, or is checked by its `start` (an
   * OATH code); `prompt` is what the user is asked to do, as a clause
   * ("enter a code from your OATH token").
   */
  readonly fallback: { allowedBy: 'fallbackOath' | 'fallbackQuestions'; answer: 'passcode' | 'answers'; asksWhenOffered: boolean; prompt: string } | null;
  /** Only ever a fallback, never the method an authentication starts with (security questions). */
  readonly fallbackOnly?: boolean;
  /** A passcode given when the authentication starts is checked by this method at once (`auto` with a passcode tries it first). */
  readonly checksPasscodeAtStart?: boolean;
  /** Where the user's answer comes from besides the Auth API: the authenticator app's answer to a push, or an event on a call. */
  readonly answeredThrough?: 'device' | 'call';
  /** The user's registered devices for this method, or null when the user has none. */
  describe(db: Unit, user: UserRow): Promise<MethodDescription | null>;
  /** Begins a challenge. With a passcode given up front it can finish at once. */
  start(context: MethodContext, input: MethodResponse & { device?: string }): Promise<StepResult>;
  /** True when a pending challenge of this method is answered by a message from the user (two-way SMS), given its saved state. */
  awaitsReply?(state: Record<string, unknown>): boolean;
  /** Handles the user's response to a pending challenge. */
  respond(context: MethodContext, state: Record<string, unknown>, response: MethodResponse): Promise<StepResult>;
  /** Everything this method holds about a user, for the privacy export (no secrets). */
  exportUserData(db: Executor, userId: string): Promise<Record<string, unknown>>;
  /** Removes everything this method holds about a user; returns how many rows of each kind went (the erasure receipt's counts). */
  deleteUserData(db: Executor, userId: string): Promise<Record<string, number>>;
}
