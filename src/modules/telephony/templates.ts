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

/** The parts of a voice call, per language. `{fraud}` is the fraud code spoken key by key. */
interface VoiceTexts {
  standard: string;
  pin: string;
  fraudHint: string;
  keys: Record<string, string>;
  signedIn: string;
  denied: string;
  fraud: string;
  noInput: string;
  pinExpired: string;
  pinConfirm: string;
  pinInvalid: string;
  pinNotChanged: string;
  pinChanged: string;
}

const VOICE: Record<string, VoiceTexts> = {
  en: {
    standard: 'This is your sign-in verification call. To sign in, press the pound key.',
    pin: 'This is your sign-in verification call. To sign in, enter your PIN followed by the pound key.',
    fraudHint: 'If you are not signing in, press {fraud} to report it.',
    keys: { '#': 'pound', '*': 'star' },
    signedIn: 'You are signed in. Goodbye.',
    denied: 'Sign-in denied. Goodbye.',
    fraud: 'Thank you. The sign-in was denied and your account is blocked. Contact your administrator. Goodbye.',
    noInput: 'No entry was received. Goodbye.',
    pinExpired: 'Your PIN has expired. Enter a new PIN followed by the pound key.',
    pinConfirm: 'Enter the new PIN again followed by the pound key.',
    pinInvalid: 'That PIN cannot be used. Enter a new PIN of {min} to {max} digits followed by the pound key.',
    pinNotChanged: 'Your PIN was not changed, so the sign-in was denied. Goodbye.',
    pinChanged: 'Your PIN is changed and you are signed in. Goodbye.',
  },
  fr: {
    standard: "Ceci est votre appel de vérification de connexion. Pour vous connecter, appuyez sur la touche dièse.",
    pin: 'Ceci est votre appel de vérification de connexion. Pour vous connecter, saisissez votre code PIN suivi de la touche dièse.',
    fraudHint: 'Si vous ne vous connectez pas, composez {fraud} pour le signaler.',
    keys: { '#': 'dièse', '*': 'étoile' },
    signedIn: 'Vous êtes connecté. Au revoir.',
    denied: 'Connexion refusée. Au revoir.',
    fraud: 'Merci. La connexion a été refusée et votre compte est bloqué. Contactez votre administrateur. Au revoir.',
    noInput: "Aucune saisie n'a été reçue. Au revoir.",
    pinExpired: 'Votre code PIN a expiré. Saisissez un nouveau code PIN suivi de la touche dièse.',
    pinConfirm: 'Saisissez à nouveau le nouveau code PIN suivi de la touche dièse.',
    pinInvalid: 'Ce code PIN ne peut pas être utilisé. Saisissez un nouveau code PIN de {min} à {max} chiffres suivi de la touche dièse.',
    pinNotChanged: "Votre code PIN n'a pas été changé, la connexion est donc refusée. Au revoir.",
    pinChanged: 'Votre code PIN est changé et vous êtes connecté. Au revoir.',
  },
};

export type VoiceMessage = Exclude<keyof VoiceTexts, 'keys' | 'fraudHint'>;

/** The language a call speaks for a user: theirs when there are texts for it, else English. */
export function voiceLanguage(language: string): string {
  const lower = language.toLowerCase();
  return VOICE[lower] ? lower : VOICE[lower.split('-')[0]!] ? lower.split('-')[0]! : 'en';
}

/** One text of a voice call in the user's language; the greeting (`standard`, `pin`) ends with how to report fraud. */
export function voiceText(language: string, message: VoiceMessage, values: { fraudCode?: string; minPin?: number; maxPin?: number } = {}): string {
  const texts = VOICE[voiceLanguage(language)]!;
  let text = texts[message];
  if ((message === 'standard' || message === 'pin') && values.fraudCode) {
    const spoken = [...values.fraudCode].map((key) => texts.keys[key] ?? key).join(' ');
    text = `${text} ${texts.fraudHint.replace('{fraud}', spoken)}`;
  }
  return text.replace('{min}', String(values.minPin ?? '')).replace('{max}', String(values.maxPin ?? ''));
}
