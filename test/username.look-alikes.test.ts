import { afterEach, describe, expect, it } from 'vitest';
import { usernameKey, usernameProblem } from '../src/modules/directory/username.js';
import { createTestApp } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

/** Names that look like alice@contoso.com: the same account, or refused (RFC 8265 in spirit). */
const SAME: [string, string][] = [
  ['full-width letters', 'ａｌｉｃｅ@contoso.com'],
  ['upper case', 'ALICE@Contoso.COM'],
  ['NFD (a combining accent) against NFC', 'álice@contoso.com'.normalize('NFD')],
];
const REFUSED: [string, string, RegExp][] = [
  ['Cyrillic а among Latin letters', 'аlice@contoso.com', /mixes Latin and Cyrillic letters/],
  ['Greek ο among Latin letters', 'bοb@contoso.com', /mixes Latin and Greek letters/],
  ['a zero-width space', 'al\u200bice@contoso.com', /invisible/],
  ['a right-to-left override', '\u202ealice@contoso.com', /invisible or text-direction/],
  ['a soft hyphen', 'ali\u00adce@contoso.com', /invisible/],
  ['text that was not UTF-8', 'al\ufffdice@contoso.com', /not valid UTF-8/],
  ['a space', 'alice smith@contoso.com', /spaces/],
];

describe('user name keys', () => {
  it.each([
    ['Kelvin sign K', '\u212aim@contoso.com', 'kim@contoso.com'],
    ['dotless ı', 'alıce@contoso.com', 'alice@contoso.com'],
    ['long s ſ', 'ſam@contoso.com', 'sam@contoso.com'],
    ['ß', 'straße@contoso.com', 'strasse@contoso.com'],
    ['NFD', 'álice@contoso.com'.normalize('NFD'), 'álice@contoso.com'.normalize('NFC')],
    ['ligature', 'ﬁona@contoso.com', 'fiona@contoso.com'],
  ])('folds the %s', (_what, given, key) => {
    expect(usernameKey(given)).toBe(usernameKey(key));
  });

  it('keeps a name in one script of its own, and the domain in another', () => {
    expect(usernameProblem('алиса@contoso.com')).toBeNull();
    expect(usernameProblem('δημήτρης@contoso.com')).toBeNull();
  });
});

describe.each(DIALECTS)('look-alike user names on %s', (dialect) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  afterEach(() => t.dispose());

  it('are the same account, or refused with a reason', async () => {
    t = await createTestApp(dialect);
    const auth = await t.as('global_administrator');
    const create = (username: string) => t.app.inject({ method: 'POST', url: '/admin/v1/users', headers: auth, payload: { username } });
    expect((await create('alice@contoso.com')).statusCode).toBe(201);
    expect((await create('álice@contoso.com')).statusCode).toBe(201);
    for (const [what, name] of SAME) {
      const response = await create(name);
      expect(response.statusCode, what).toBe(409);
      expect(response.json<{ code: string }>().code, what).toBe('username_taken');
      // And the look-alike finds the account.
      expect((await t.app.inject({ url: `/admin/v1/users/${encodeURIComponent(name)}`, headers: auth })).statusCode, what).toBe(200);
    }
    for (const [what, name, reason] of REFUSED) {
      const response = await create(name);
      expect(response.statusCode, what).toBe(400);
      expect(response.json<{ detail: string }>().detail, what).toMatch(reason);
    }
    // A full-width name is stored in its plain form.
    expect((await create('ｂｏｂ@contoso.com')).json<{ username: string }>().username).toBe('bob@contoso.com');
  });
});
