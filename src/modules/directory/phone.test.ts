import { describe, expect, it } from 'vitest';
import { formatPhone, isFieldError, validatePhone } from './phone.js';

describe('phone validation (FAILED_INVALID_PHONENUMBER / FAILED_INVALID_EXTENSION)', () => {
  it('accepts a 10-digit number for country code 1 and strips separators', () => {
    expect(validatePhone({ number: '(202) 555-0123' }, 'phone', '1')).toEqual({ countryCode: '1', number: '2025550123', extension: null });
  });

  it('takes the default country code when none is given', () => {
    expect(validatePhone({ number: '612345678' }, 'phone', '33')).toMatchObject({ countryCode: '33', number: '612345678' });
  });

  it.each([
    ['letters', { number: '202555O123' }],
    ['too few digits for +1', { number: '202555012' }],
    ['too many digits for +1', { number: '20255501234' }],
    ['a bad country code', { country_code: '1234', number: '2025550123' }],
  ])('refuses %s', (_name, input) => {
    const result = validatePhone(input, 'phone', '1');
    expect(isFieldError(result) && result.code).toBe('invalid_phone_number');
  });

  it.each(['123', '123,,45', '@123#', '*9#', '1,2,3'])('accepts extension %s', (extension) => {
    expect(validatePhone({ number: '2025550123', extension }, 'phone', '1')).toMatchObject({ extension });
  });

  it.each(['12a', '12 34', '1@2', '@', 'x123', '12-34'])('refuses extension %s', (extension) => {
    const result = validatePhone({ number: '2025550123', extension }, 'backup_phone', '1');
    expect(result).toMatchObject({ code: 'invalid_extension', field: 'backup_phone.extension' });
  });

  it('formats in international form', () => {
    expect(formatPhone({ countryCode: '1', number: '2025550123' })).toBe('+1 202 555 0123');
  });
});
