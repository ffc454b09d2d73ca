import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export interface PhoneInput {
  country_code?: string | null;
  number: string;
  extension?: string | null;
}

export interface Phone {
  countryCode: string;
  number: string;
  extension: string | null;
}

export type FieldError = { field: string; code: 'invalid_phone_number' | 'invalid_extension' | 'validation_failed'; message: string };

/** SPEC.md §2 FAILED_INVALID_EXTENSION: digits, commas, `*` and `#`, optionally prefixed by `@`. */
const EXTENSION = /^@?[0-9,*#]{1,40}$/;
/** Separators people type inside numbers; anything else that is not a digit makes the number invalid. */
const SEPARATORS = /[\s\-().]/g;

/**
 * Validates a phone as the SPEC.md §2 codes FAILED_INVALID_PHONENUMBER and
 * FAILED_INVALID_EXTENSION describe: the number must be numeric and valid for
 * its country (10 digits for country code 1). Returns the normalised phone or
 * the error for the field named by `field`.
 */
export function validatePhone(input: PhoneInput, field: string, defaultCountryCode: string): Phone | FieldError {
  const countryCode = (input.country_code ?? '').replace(/^\+/, '').trim() || defaultCountryCode;
  if (!/^[0-9]{1,3}$/.test(countryCode)) {
    return { field: `${field}.country_code`, code: 'invalid_phone_number', message: 'country code must be 1 to 3 digits' };
  }
  const number = input.number.replace(SEPARATORS, '');
  if (!/^[0-9]{4,15}$/.test(number)) {
    return { field: `${field}.number`, code: 'invalid_phone_number', message: 'phone number must be numeric (4 to 15 digits)' };
  }
  const parsed = parsePhoneNumberFromString(`+${countryCode}${number}`);
  if (!parsed || !parsed.isValid()) {
    const hint = countryCode === '1' ? ' (10 digits for country code 1)' : '';
    return { field: `${field}.number`, code: 'invalid_phone_number', message: `not a valid phone number for country code ${countryCode}${hint}` };
  }
  const extension = input.extension?.trim() || null;
  if (extension !== null && !EXTENSION.test(extension)) {
    return {
      field: `${field}.extension`,
      code: 'invalid_extension',
      message: 'extension may hold only digits, commas, * and #, optionally prefixed by @',
    };
  }
  return { countryCode, number: parsed.nationalNumber, extension };
}

export const isFieldError = (value: unknown): value is FieldError =>
  typeof value === 'object' && value !== null && 'field' in value && 'code' in value;

/** E.164 form, for display and for the "formatted phone number" of records. */
export function formatPhone(phone: Pick<Phone, 'countryCode' | 'number'>): string {
  return parsePhoneNumberFromString(`+${phone.countryCode}${phone.number}`)?.formatInternational() ?? `+${phone.countryCode} ${phone.number}`;
}
