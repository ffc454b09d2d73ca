import { describe, expect, it } from 'vitest';
import { hangupVerdict, menuVerdict, TRY_BACKUP_AFTER } from './keys.js';

const standard = { pinMode: false, pinChangeRequired: false };
const pin = { pinMode: true, pinChangeRequired: false };
const isPin = (entered: string) => entered === '4821';
const verdict = (digits: string, finished: boolean, user = standard, fraudCode = '0#') => menuVerdict({ digits, finished }, user, fraudCode, isPin);

describe('what the keys on a call mean (SPEC.md §2)', () => {
  it('standard mode: # alone authenticates, digits are a PIN the mode does not take', () => {
    expect(verdict('', true)).toMatchObject({ code: 'SUCCESS_NO_PIN', authenticated: true });
    expect(verdict('4821', true)).toMatchObject({ code: 'SUCCESS_WITH_PIN', authenticated: false, countsAsFailure: true });
  });

  it('PIN mode: the PIN authenticates, a wrong one or # alone is denied, an expired one asks for a change', () => {
    expect(verdict('4821', true, pin)).toMatchObject({ code: 'SUCCESS_WITH_PIN', authenticated: true });
    expect(verdict('1111', true, pin)).toMatchObject({ code: 'SUCCESS_WITH_PIN', authenticated: false, countsAsFailure: true });
    expect(verdict('', true, pin)).toMatchObject({ code: 'SUCCESS_NO_PIN', authenticated: false });
    expect(verdict('4821', true, { pinMode: true, pinChangeRequired: true })).toEqual({ changePin: true });
    // An expired PIN is only offered a change when it is right.
    expect(verdict('1111', true, { pinMode: true, pinChangeRequired: true })).toMatchObject({ code: 'SUCCESS_WITH_PIN', authenticated: false });
  });

  it('silence, *, and the fraud code, in either mode', () => {
    for (const user of [standard, pin]) {
      expect(verdict('', false, user)).toMatchObject({ code: 'SUCCESS_NO_PIN_BUT_TIMEOUT', countsAsFailure: false });
      expect(verdict('48', false, user)).toMatchObject({ code: 'SUCCESS_WITH_PIN_BUT_TIMEOUT', countsAsFailure: false });
      expect(verdict('48*1', true, user)).toMatchObject({ code: 'SUCCESS_INVALID_INPUT' });
      expect(verdict('0', true, user)).toMatchObject({ code: 'FAILED_FRAUD_CODE_ENTERED', fraud: true, authenticated: false });
      // A configured fraud code may hold *; it wins over the invalid-input rule.
      expect(verdict('9*', true, user, '9*#')).toMatchObject({ code: 'FAILED_FRAUD_CODE_ENTERED' });
      // Without its #, the fraud code was never submitted.
      expect(verdict('0', false, user)).toMatchObject({ code: 'SUCCESS_WITH_PIN_BUT_TIMEOUT' });
    }
  });

  it('a call that ends early: unreachable before an answer, hung up after, PIN expired during a change', () => {
    for (const status of ['busy', 'no_answer', 'failed', 'canceled'] as const) expect(hangupVerdict('ringing', status).code).toBe('CONFIG_ISSUE');
    expect(hangupVerdict('ringing', 'completed').code).toBe('FAILED_USER_HUNGUP_ON_US');
    expect(hangupVerdict('menu', 'completed').code).toBe('FAILED_USER_HUNGUP_ON_US');
    expect(hangupVerdict('new_pin', 'completed').code).toBe('SUCCESS_PIN_EXPIRED');
    expect(hangupVerdict('confirm_pin', 'completed').code).toBe('SUCCESS_PIN_EXPIRED');
  });

  it('calls the backup only after outcomes that are not the user\'s answer', () => {
    expect(TRY_BACKUP_AFTER.has('CONFIG_ISSUE')).toBe(true);
    for (const answer of ['SUCCESS_WITH_PIN', 'SUCCESS_NO_PIN', 'FAILED_FRAUD_CODE_ENTERED', 'SUCCESS_PIN_EXPIRED'] as const) expect(TRY_BACKUP_AFTER.has(answer)).toBe(false);
  });
});
