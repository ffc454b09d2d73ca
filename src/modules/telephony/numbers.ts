/** A stored phone in E.164: +, country code, national number (digits only). */
export function e164(countryCode: string | null, number: string): string {
  return `+${countryCode ?? ''}${number.replace(/\D/g, '')}`;
}

/** A number as preauth shows it: the country code and last four digits, enough to recognise and not enough to harvest. */
export function maskedNumber(e164Number: string): string {
  return `${e164Number.slice(0, e164Number.length - 10 > 1 ? e164Number.length - 10 : 2)}••••${e164Number.slice(-4)}`;
}
