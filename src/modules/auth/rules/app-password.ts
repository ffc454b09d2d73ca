import { useAppPassword } from '../../access/app-passwords.js';
import { next, type SatisfyInput, type WritingRule } from './rule.js';

/**
 * SPEC.md §3 "skipped due to app password": a legacy client (one that cannot
 * show a second factor) signs in with one of the user's app passwords, whose
 * last use is noted. A wrong one is a guess: denied, and counted towards
 * throttling.
 */
export const appPassword: WritingRule<SatisfyInput, 'no_app_password' | 'app_password_wrong' | 'app_password_used'> = {
  name: 'app_password',
  effects: 'writes',
  tables: ['app_passwords'],
  async evaluate({ appPassword: password, db, keyring, user, clock }) {
    if (password === undefined) return next('no_app_password');
    const name = await useAppPassword(db, keyring, user, password, clock.now());
    if (name === null) return { outcome: 'deny', reason: { code: 'app_password_wrong' }, code: null, detail: 'invalid authentication', mfaRequired: true, countedFailure: true };
    return { outcome: 'allow', reason: { code: 'app_password_used', name }, code: null, detail: 'skipped due to app password', mfaRequired: true };
  },
};
