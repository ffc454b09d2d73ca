import { useAppPassword } from '../../access/app-passwords.js';
import { next, type SatisfyRule } from './rule.js';

/**
 * SPEC.md §3 "skipped due to app password": a legacy client (one that cannot
 * show a second factor) signs in with one of the user's app passwords. A
 * wrong one is a guess: denied, and counted towards throttling.
 */
export const appPassword: SatisfyRule = {
  name: 'app_password',
  async evaluate({ appPassword: password, db, keyring, user, clock }) {
    if (password === undefined) return next('no app password');
    const name = await useAppPassword(db, keyring, user, password, clock.now());
    if (name === null) return { outcome: 'deny', reason: 'the app password is not one of the user\'s', code: null, detail: 'invalid authentication', mfaRequired: true, countedFailure: true };
    return { outcome: 'allow', reason: `app password ${name}`, code: null, detail: 'skipped due to app password', mfaRequired: true };
  },
};
