import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode } from './base32.js';
import { hotp, matchCounter, totp, type OathAlgorithm } from './otp.js';

const ascii = (text: string) => Buffer.from(text, 'ascii');

describe('HOTP, RFC 4226 appendix D', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  it.each(expected.map((code, counter) => [counter, code]))('counter %i gives %s', (counter, code) => {
    expect(hotp({ secret: ascii('12345678901234567890'), algorithm: 'SHA1', digits: 6 }, counter)).toBe(code);
  });
});

describe('TOTP, RFC 6238 appendix B', () => {
  const seeds: Record<OathAlgorithm, Buffer> = {
    SHA1: ascii('12345678901234567890'),
    SHA256: ascii('12345678901234567890123456789012'),
    SHA512: ascii('1234567890123456789012345678901234567890123456789012345678901234'),
  };
  const table: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  it.each(table)('time %i', (seconds, sha1, sha256, sha512) => {
    for (const [algorithm, code] of [['SHA1', sha1], ['SHA256', sha256], ['SHA512', sha512]] as const) {
      expect(totp({ secret: seeds[algorithm], algorithm, digits: 8 }, seconds * 1000, 30), algorithm).toBe(code);
    }
  });
});

describe('codes from Debian oathtool', () => {
  const oathtool = (() => {
    try {
      execFileSync('oathtool', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      if (process.env.CI) throw new Error('oathtool is required in CI (.ci/run installs it)');
      return false;
    }
  })();

  it.skipIf(!oathtool)('agree for random secrets, algorithms, digits and times', () => {
    for (let round = 0; round < 12; round += 1) {
      const secret = randomBytes(20 + (round % 3) * 6);
      const algorithm = (['SHA1', 'SHA256', 'SHA512'] as const)[round % 3]!;
      const digits = round % 2 === 0 ? 6 : 8;
      const seconds = 1_700_000_000 + round * 7919;
      const period = round % 4 === 0 ? 60 : 30;
      const expected = execFileSync('oathtool', [
        '--totp=' + algorithm.toLowerCase(),
        '--base32',
        `--digits=${digits}`,
        `--time-step-size=${period}s`,
        `--now=@${seconds}`,
        base32Encode(secret),
      ])
        .toString()
        .trim();
      expect(totp({ secret, algorithm, digits }, seconds * 1000, period)).toBe(expected);
      const counter = round * 1000 + 7;
      const hotpExpected = execFileSync('oathtool', ['--hotp', '--base32', `--digits=${digits}`, `--counter=${counter}`, base32Encode(secret)]).toString().trim();
      expect(hotp({ secret, algorithm: 'SHA1', digits }, counter)).toBe(hotpExpected);
    }
  });
});

describe('matching a code in a window', () => {
  const params = { secret: ascii('12345678901234567890'), algorithm: 'SHA1' as const, digits: 6 as const };
  it('finds the counter, or null outside the window', () => {
    expect(matchCounter(params, '969429', 0, 5)).toBe(3);
    expect(matchCounter(params, '969429', 4, 9)).toBeNull();
    expect(matchCounter(params, '000000', 0, 9)).toBeNull();
  });
});

describe('base32', () => {
  it('round-trips and reads the RFC 4648 test vector', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('MZXW6YTBOI======')?.toString()).toBe('foobar');
    expect(base32Decode('mzxw 6ytb-oi')?.toString()).toBe('foobar');
    expect(base32Decode('MZXW1')).toBeNull();
    const random = randomBytes(20);
    expect(base32Decode(base32Encode(random))!.equals(random)).toBe(true);
  });
});
