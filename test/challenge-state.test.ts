import { describe, expect, it } from 'vitest';
import { readState, writeState, type ChallengeState } from '../src/modules/auth/challenge-state.js';
import { AppError } from '../src/shared/errors.js';

const state: ChallengeState = {
  deadline: Date.UTC(2026, 10, 1, 12, 5),
  step: { devices: ['d1'], attempts: 1 },
  fallback: ['oath', 'questions'],
  questions: [{ id: 'q1', text: 'Your first school?' }],
  questionsState: { asked: ['q1'] },
  fields: { primary_phone_number: '2025550123', primary_authenticated: 0, device: null },
  steps: [{ method: 'app', result_code: 'FAILED_PHONE_APP_DENIED', succeeded: false, detail: 'user declined the authentication', at: '2026-11-01T12:00:00.000Z' }],
  trace: [{ rule: 'bypass', outcome: 'continue', reason: 'no bypass' }],
  number: '42',
  pushFatigue: 'number_matching_required',
  requirement: { policy: 'Require MFA', rememberDays: 14 },
  remember: true,
  client: { type: 'modern', device: null },
};

const failure = (text: string): string => {
  try {
    readState({ id: 'tx-1', state: text });
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return (error as AppError).message;
  }
  throw new Error('readState accepted it');
};

describe('challenge state', () => {
  it('reads back what was written', () => {
    expect(readState({ id: 'tx-1', state: writeState(state) })).toEqual(state);
  });

  it('refuses state that is not JSON, naming the challenge', () => {
    expect(failure('{"deadline":')).toBe('challenge tx-1: its state is not JSON');
  });

  it.each([
    ['a field it does not know', { ...state, secret: 'x' }],
    ['a missing deadline', { ...state, deadline: undefined }],
    ['a fallback method that does not exist', { ...state, fallback: ['carrier-pigeon'] }],
    ['a step with an unknown result code', { ...state, steps: [{ ...state.steps[0], result_code: 'NOT_A_CODE' }] }],
    ['an attempt field that is not a plain value', { ...state, fields: { device: { id: 'x' } } }],
    ['a trace entry with an unknown outcome', { ...state, trace: [{ rule: 'bypass', outcome: 'maybe', reason: '' }] }],
    ['an unknown client type', { ...state, client: { type: 'fax', device: null } }],
  ])('refuses %s, naming the challenge and where', (_, bad) => {
    expect(failure(JSON.stringify(bad))).toMatch(/^challenge tx-1: its state does not match its schema \(\/.*\)$/);
  });
});
