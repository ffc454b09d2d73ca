/**
 * User names as people type them and as attackers forge them (RFC 8265,
 * PRECIS UsernameCaseMapped, in spirit): a name is stored in its NFKC form
 * (full-width letters, ligatures and the Kelvin sign become plain letters,
 * NFD and NFC spell the same), and compared by its key, the NFKC form case
 * folded, so "Alice", "ＡＬＩＣＥ" and "alice" are one account. What no
 * normalisation can make equal is refused instead: invisible characters and
 * direction controls, letters of two scripts in one part of the name (a
 * Cyrillic "а" among Latin letters), and text that was not valid UTF-8.
 */

const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]/u;
const CONTROL_OR_SPACE = /[\s\p{Cc}]/u;
/** Scripts whose letters pass for each other's: one part of a name uses one of them at most. */
const SCRIPTS = ['Latin', 'Cyrillic', 'Greek', 'Armenian', 'Cherokee', 'Georgian', 'Coptic'] as const;
const SCRIPT_OF = SCRIPTS.map((script) => [script, new RegExp(`\\p{Script=${script}}`, 'u')] as const);

export const MAX_USERNAME_LENGTH = 256;

/** The form a user name is stored in: NFKC, trimmed. */
export const normalizeUsername = (username: string): string => username.normalize('NFKC').trim();

/**
 * The key names are compared by: the NFKC form, case folded. Upper then lower
 * case folds what lower case alone leaves apart (the dotless ı and the long
 * ſ become i and s; ß becomes ss), as full case folding does.
 */
export const usernameKey = (username: string): string => normalizeUsername(username).toUpperCase().toLowerCase().normalize('NFKC');

/** Why `username` (as typed) cannot be a user name, or null when it can. */
export function usernameProblem(username: string): string | null {
  const name = normalizeUsername(username);
  if (name.length < 1 || name.length > MAX_USERNAME_LENGTH) return `username must be 1 to ${MAX_USERNAME_LENGTH} characters`;
  if (name.includes('\uFFFD')) return 'username is not valid UTF-8 text';
  if (CONTROL_OR_SPACE.test(name)) return 'username must not contain spaces or control characters';
  if (INVISIBLE.test(name)) return 'username must not contain invisible or text-direction characters';
  for (const part of name.split(/[@.+_-]/)) {
    const scripts = SCRIPT_OF.filter(([, pattern]) => pattern.test(part)).map(([script]) => script);
    if (scripts.length > 1) return `username mixes ${scripts.join(' and ')} letters in "${part}": a look-alike of another name`;
  }
  return null;
}
