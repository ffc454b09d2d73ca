/** The texts Countersign sends, per language. A user's `language` picks one; an unknown language falls back to English. */
const SMS_OTP: Record<string, (code: string, pinMode: boolean) => string> = {
  en: (code, pinMode) => `Your verification code is ${code}.${pinMode ? ' Enter it followed by your PIN.' : ''} Do not share it with anyone.`,
  fr: (code, pinMode) => `Votre code de vérification est ${code}.${pinMode ? ' Saisissez-le suivi de votre code PIN.' : ''} Ne le communiquez à personne.`,
};

export const SMS_LANGUAGES = Object.keys(SMS_OTP);

/** The one-time-code text message in the user's language (the part before any `-`: `fr-CA` → `fr`). */
export function smsOtpText(language: string, code: string, pinMode: boolean): string {
  const template = SMS_OTP[language.toLowerCase()] ?? SMS_OTP[language.toLowerCase().split('-')[0]!] ?? SMS_OTP.en!;
  return template(code, pinMode);
}
