import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { appError } from '../../shared/errors.js';
import { CLIENT_TYPES } from '../access/policies.js';
import { METHOD_NAMES, PUSH_FATIGUE_ACTIONS, type AttemptFields } from '../methods/contract.js';
import { DENIED_DETAILS, SATISFIED_DETAILS } from './mfa-details.js';
import type { TraceEntry } from './records.js';
import { RESULT_CODE_NAMES } from './result-codes.js';

const Method = Type.Enum(METHOD_NAMES);
const Question = Type.Object({ id: Type.String(), text: Type.String() });

/** One step of the sign-in's authentication details (records.ts SigninStep). */
const Step = Type.Object({
  method: Type.Enum([...METHOD_NAMES, 'engine', 'remembered_device']),
  result_code: Type.Union([Type.Enum(RESULT_CODE_NAMES), Type.Null()]),
  succeeded: Type.Boolean(),
  detail: Type.Enum([...SATISFIED_DETAILS, ...DENIED_DETAILS]),
  at: Type.String(),
});

/** A rule's entry in the evaluation trace: its rule and outcome are checked, what it says about itself is the rule's. */
const Trace = Type.Unsafe<TraceEntry>(Type.Object({ rule: Type.String(), outcome: Type.Enum(['continue', 'allow', 'deny']) }, { additionalProperties: true }));

/** The SPEC.md §5 attempt columns a method filled so far: plain values only. */
const Fields = Type.Unsafe<AttemptFields>(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])));

/**
 * What a pending challenge remembers between requests, in its row's `state`
 * column (never a secret: a method keeps only what it needs to check the
 * next answer, such as a code's hash). Read back only through `readState`,
 * which checks it against this schema.
 */
const ChallengeStateSchema = Type.Object(
  {
    /** When the whole authentication must have ended (auth.resultTimeoutSeconds after it began). */
    deadline: Type.Number(),
    /** The method's own state, which only the method reads. */
    step: Type.Record(Type.String(), Type.Unknown()),
    /** The fallback methods offered after the primary method was denied (empty until then). */
    fallback: Type.Array(Method),
    /** The state of the fallback method that asked something when offered (the security questions asked). */
    questionsState: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** The security questions a fallback asks (ids and texts, never answers): shown again by auth_status. */
    questions: Type.Optional(Type.Array(Question)),
    fields: Fields,
    steps: Type.Array(Step),
    trace: Type.Array(Trace),
    /** Number matching: the number the sign-in screen shows while the app's push waits. */
    number: Type.Optional(Type.String()),
    /** What the push-fatigue defence did, kept for the sign-in record. */
    pushFatigue: Type.Optional(Type.Enum(PUSH_FATIGUE_ACTIONS)),
    /** The policy that required MFA, and how long a device may remember it. */
    requirement: Type.Optional(Type.Object({ policy: Type.String(), rememberDays: Type.Union([Type.Integer(), Type.Null()]) })),
    /** The user asked to remember MFA on this device. */
    remember: Type.Optional(Type.Boolean()),
    /** The signed part of the remembered-device token issued when the challenge succeeded (the signature is made again when asked). */
    remembered: Type.Optional(Type.String()),
    /** The client type and device of the sign-in, for its record. */
    client: Type.Optional(Type.Object({ type: Type.Enum(CLIENT_TYPES), device: Type.Union([Type.String(), Type.Null()]) })),
  },
  { additionalProperties: false },
);

export type ChallengeState = Static<typeof ChallengeStateSchema>;

const checkState = Compile(ChallengeStateSchema);

/** The text a challenge row stores for `state`. */
export function writeState(state: ChallengeState): string {
  return JSON.stringify(state);
}

/**
 * A challenge row's state, checked: a row written by another version, or
 * changed by hand, fails here with the challenge's id, never as a method
 * reading a field that is not there.
 */
export function readState(challenge: { id: string; state: string }): ChallengeState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(challenge.state);
  } catch {
    throw appError('internal_error', `challenge ${challenge.id}: its state is not JSON`);
  }
  if (!checkState.Check(parsed)) {
    const [first] = checkState.Errors(parsed);
    throw appError('internal_error', `challenge ${challenge.id}: its state does not match its schema (${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'})`);
  }
  return parsed;
}
