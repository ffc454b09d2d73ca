import { describe, expect, it } from 'vitest';
import { answerProblem, MAX_ANSWER_LENGTH, normalizeAnswer } from './normalize.js';

describe('normalizeAnswer', () => {
  it.each([
    ['  Fluffy!! ', 'fluffy'],
    ['FLUFFY', 'fluffy'],
    ['Mr. Fluffy-Pants', 'mr fluffypants'],
    ['New   York\t\nCity', 'new york city'],
    ["O'Brien", 'obrien'],
    ['$100 + tax', '100 tax'],
    ['🐱 Tom', 'tom'],
  ])('%j becomes %j', (raw, expected) => {
    expect(normalizeAnswer(raw)).toBe(expected);
  });

  it('treats composed and decomposed accents alike (NFKC) and keeps the accent', () => {
    expect(normalizeAnswer('Caf\u00e9')).toBe(normalizeAnswer('Cafe\u0301'));
    expect(normalizeAnswer('Caf\u00e9')).toBe('caf\u00e9');
    expect(normalizeAnswer('Café')).not.toBe(normalizeAnswer('Cafe'));
  });

  it('folds full-width letters and digits, ligatures and non-breaking spaces', () => {
    expect(normalizeAnswer('Ｆｌｕｆｆｙ　１２')).toBe('fluffy 12');
    expect(normalizeAnswer('\ufb01sh')).toBe('fish');
    expect(normalizeAnswer('san\u00a0jos\u00e9')).toBe('san jos\u00e9');
  });

  it('folds case beyond ASCII', () => {
    expect(normalizeAnswer('STRASSE')).toBe(normalizeAnswer('straße'));
    expect(normalizeAnswer('ΟΔΥΣΣΕΥΣ')).toBe(normalizeAnswer('οδυσσευς'));
    expect(normalizeAnswer('ΟΔΥΣΣΕΥΣ')).toBe(normalizeAnswer('οδυσσευσ'));
    expect(normalizeAnswer('ÅSA')).toBe('åsa');
  });

  it('removes invisible format characters', () => {
    expect(normalizeAnswer('flu\u200bffy\u200d')).toBe('fluffy');
  });

  it('keeps letters of any script', () => {
    expect(normalizeAnswer(' 東京! ')).toBe('東京');
    expect(normalizeAnswer('Москва')).toBe('москва');
  });
});

describe('answerProblem', () => {
  it('accepts answers with at least two letters or digits', () => {
    expect(answerProblem('Al')).toBeNull();
    expect(answerProblem('42')).toBeNull();
    expect(answerProblem('東京')).toBeNull();
  });

  it('refuses answers that normalise to fewer than two characters', () => {
    for (const answer of ['', ' ', 'x', '!!!', ' a! ', '\u200b\u200b']) expect(answerProblem(answer), JSON.stringify(answer)).toMatch(/at least 2/);
  });

  it('refuses over-long answers without repeating them', () => {
    const long = 'secret'.repeat(50);
    expect(long.length).toBeGreaterThan(MAX_ANSWER_LENGTH);
    const problem = answerProblem(long);
    expect(problem).toMatch(/at most 256/);
    expect(problem).not.toContain('secret');
  });
});
