/** The texts Countersign sends, per language. A user's `language` picks one; an unknown language falls back to English. */
const SMS_OTP: Record<string, (code: string, pinMode: boolean) => string> = {
  en: (code, pinMode) => `Your verification code is ${code}.${pinMode ? ' Enter it followed by your PIN.' : ''} Do not share it with anyone.`,
  fr: (code, pinMode) => `Votre code de vérification est ${code}.${pinMode ? ' Saisissez-le suivi de votre code PIN.' : ''} Ne le communiquez à personne.`,
};

/** Two-way: the user sends the code back. */
const SMS_REPLY: Record<string, (code: string, pinMode: boolean) => string> = {
  en: (code, pinMode) => `To sign in, reply with ${code}${pinMode ? ' followed by your PIN' : ''}. If you are not signing in, ignore this message.`,
  fr: (code, pinMode) => `Pour vous connecter, répondez ${code}${pinMode ? ' suivi de votre code PIN' : ''}. Si vous ne vous connectez pas, ignorez ce message.`,
};

const pick = <T>(templates: Record<string, T>, language: string): T =>
  templates[language.toLowerCase()] ?? templates[language.toLowerCase().split('-')[0]!] ?? templates.en!;

/** The two-way text message in the user's language: the user replies with the code (and PIN). */
export function smsReplyText(language: string, code: string, pinMode: boolean): string {
  return pick(SMS_REPLY, language)(code, pinMode);
}

/** The one-time-code text message in the user's language (the part before any `-`: `fr-CA` → `fr`). */
export function smsOtpText(language: string, code: string, pinMode: boolean): string {
  return pick(SMS_OTP, language)(code, pinMode);
}
