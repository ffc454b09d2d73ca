/**
 * Fewest characters (Unicode code points) an answer keeps after
 * normalisation. An answer that normalises to nothing ("!!!", "  ") would
 * match any other punctuation-only reply, and a one-character answer has a few
 * dozen possible values: both are guessed at once, online or offline, however
 * slow the hash. Two is a floor, not a strength rule: short real answers ("Al",
 * "42") stay possible.
 */
export const MIN_ANSWER_LENGTH = 2;

/** Most characters an answer may have as typed; it bounds the work of normalising and hashing. */
export const MAX_ANSWER_LENGTH = 256;

const FORMAT_CHARACTERS = /\p{Cf}/gu; // zero-width spaces and joiners, direction marks
const PUNCTUATION_AND_SYMBOLS = /[\p{P}\p{S}]/gu;
const SPACES = /[\s\p{Cc}\p{Z}]+/gu;

/**
 * The form an answer is hashed and compared in, so that "  Fluffy!! " and
 * "fluffy" match:
 * 1. Unicode NFKC: "é" typed as one character or as "e" + combining accent are
 *    the same, and compatibility forms fold ("Ｆｌｕｆｆｙ" → "Fluffy", "ﬁ" → "fi");
 * 2. case folded, locale-independently: upper- then lower-casing approximates
 *    Unicode full case folding ("STRASSE" and "straße" both become "strasse",
 *    final and medial sigma match), then NFKC again as case mapping can
 *    un-normalise;
 * 3. punctuation and symbols removed, invisible format characters removed;
 * 4. runs of white space become one space, and the ends are trimmed.
 * Accents are kept: "café" and "cafe" differ, as they do in many languages.
 */
export function normalizeAnswer(answer: string): string {
  return answer
    .normalize('NFKC')
    .toUpperCase()
    .toLowerCase()
    .normalize('NFKC')
    .replace(FORMAT_CHARACTERS, '')
    .replace(PUNCTUATION_AND_SYMBOLS, '')
    .replace(SPACES, ' ')
    .trim();
}

/** Why an answer cannot be registered, or null when it can. The message never repeats the answer. */
export function answerProblem(answer: string): string | null {
  if ([...answer].length > MAX_ANSWER_LENGTH) return `answer must have at most ${MAX_ANSWER_LENGTH} characters`;
  if ([...normalizeAnswer(answer)].length < MIN_ANSWER_LENGTH) {
    return `answer must have at least ${MIN_ANSWER_LENGTH} letters or digits (punctuation, symbols and extra spaces are ignored)`;
  }
  return null;
}
