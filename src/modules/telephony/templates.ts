import { readFileSync } from 'node:fs';

/**
 * Every text Countersign sends or says, by key. `{code}` is the one-time
 * code, `{fraud}` the fraud code spoken key by key, `{min}` and `{max}` the
 * PIN length limits.
 */
const ENGLISH = {
  sms_otp: 'Your verification code is {code}. Do not share it with anyone.',
  sms_otp_pin: 'Your verification code is {code}. Enter it followed by your PIN. Do not share it with anyone.',
  sms_reply: 'To sign in, reply with {code}. If you are not signing in, ignore this message.',
  sms_reply_pin: 'To sign in, reply with {code} followed by your PIN. If you are not signing in, ignore this message.',
  call_standard: 'This is your sign-in verification call. To sign in, press the pound key.',
  call_pin: 'This is your sign-in verification call. To sign in, enter your PIN followed by the pound key.',
  call_fraud_hint: 'If you are not signing in, press {fraud} to report it.',
  key_pound: 'pound',
  key_star: 'star',
  call_signed_in: 'You are signed in. Goodbye.',
  call_denied: 'Sign-in denied. Goodbye.',
  call_fraud: 'Thank you. The sign-in was denied and your account is blocked. Contact your administrator. Goodbye.',
  call_no_input: 'No entry was received. Goodbye.',
  call_pin_expired: 'Your PIN has expired. Enter a new PIN followed by the pound key.',
  call_pin_confirm: 'Enter the new PIN again followed by the pound key.',
  call_pin_invalid: 'That PIN cannot be used. Enter a new PIN of {min} to {max} digits followed by the pound key.',
  call_pin_not_changed: 'Your PIN was not changed, so the sign-in was denied. Goodbye.',
  call_pin_changed: 'Your PIN is changed and you are signed in. Goodbye.',
};

export type TemplateKey = keyof typeof ENGLISH;
export const TEMPLATE_KEYS = Object.keys(ENGLISH) as TemplateKey[];
type TextSet = Record<TemplateKey, string>;

const FRENCH: TextSet = {
  sms_otp: 'Votre code de vérification est {code}. Ne le communiquez à personne.',
  sms_otp_pin: 'Votre code de vérification est {code}. Saisissez-le suivi de votre code PIN. Ne le communiquez à personne.',
  sms_reply: 'Pour vous connecter, répondez {code}. Si vous ne vous connectez pas, ignorez ce message.',
  sms_reply_pin: 'Pour vous connecter, répondez {code} suivi de votre code PIN. Si vous ne vous connectez pas, ignorez ce message.',
  call_standard: 'Ceci est votre appel de vérification de connexion. Pour vous connecter, appuyez sur la touche dièse.',
  call_pin: 'Ceci est votre appel de vérification de connexion. Pour vous connecter, saisissez votre code PIN suivi de la touche dièse.',
  call_fraud_hint: 'Si vous ne vous connectez pas, composez {fraud} pour le signaler.',
  key_pound: 'dièse',
  key_star: 'étoile',
  call_signed_in: 'Vous êtes connecté. Au revoir.',
  call_denied: 'Connexion refusée. Au revoir.',
  call_fraud: 'Merci. La connexion a été refusée et votre compte est bloqué. Contactez votre administrateur. Au revoir.',
  call_no_input: "Aucune saisie n'a été reçue. Au revoir.",
  call_pin_expired: 'Votre code PIN a expiré. Saisissez un nouveau code PIN suivi de la touche dièse.',
  call_pin_confirm: 'Saisissez à nouveau le nouveau code PIN suivi de la touche dièse.',
  call_pin_invalid: 'Ce code PIN ne peut pas être utilisé. Saisissez un nouveau code PIN de {min} à {max} chiffres suivi de la touche dièse.',
  call_pin_not_changed: "Votre code PIN n'a pas été changé, la connexion est donc refusée. Au revoir.",
  call_pin_changed: 'Votre code PIN est changé et vous êtes connecté. Au revoir.',
};

/** Placeholders a text must keep: without them it would not carry the code or the fraud code. */
const REQUIRED: Partial<Record<TemplateKey, string>> = {
  sms_otp: '{code}',
  sms_otp_pin: '{code}',
  sms_reply: '{code}',
  sms_reply_pin: '{code}',
  call_fraud_hint: '{fraud}',
};

const LANGUAGE = /^[a-z]{2,3}(-[a-z0-9]{2,8})?$/;

export type TemplateOverrides = Record<string, Partial<TextSet>>;

/**
 * The texts per language: English and French built in, overridden or
 * extended per language by `telephony.templatesFile`. A user's language picks
 * a set (`fr-CA` falls back to `fr`, an unknown one to English); a key the
 * chosen set lacks comes from English.
 */
export class Templates {
  private readonly sets = new Map<string, Partial<TextSet>>([
    ['en', ENGLISH],
    ['fr', FRENCH],
  ]);

  constructor(overrides: TemplateOverrides = {}) {
    for (const [language, texts] of Object.entries(overrides)) this.sets.set(language, { ...this.sets.get(language), ...texts });
  }

  /** The language whose texts a user with `language` gets. */
  language(language: string): string {
    const lower = language.toLowerCase();
    if (this.sets.has(lower)) return lower;
    const base = lower.split('-')[0]!;
    return this.sets.has(base) ? base : 'en';
  }

  /** One text in the user's language with its placeholders filled. */
  text(language: string, key: TemplateKey, values: Record<string, string | number> = {}): string {
    const template = this.sets.get(this.language(language))?.[key] ?? ENGLISH[key];
    return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
  }

  /** A call's greeting: how to sign in in the user's mode, then how to report fraud, the fraud code spoken key by key. */
  greeting(language: string, pinMode: boolean, fraudCode: string): string {
    const keys: Record<string, string> = { '#': this.text(language, 'key_pound'), '*': this.text(language, 'key_star') };
    const spoken = [...fraudCode].map((key) => keys[key] ?? key).join(' ');
    return `${this.text(language, pinMode ? 'call_pin' : 'call_standard')} ${this.text(language, 'call_fraud_hint', { fraud: spoken })}`;
  }
}

/**
 * Reads and checks a templates file: a JSON object of languages (`de`,
 * `pt-br`), each an object of template keys and texts. Throws an Error naming
 * the file, language and key of anything wrong, so the server does not start
 * with a text that would leave out the code.
 */
export function loadTemplatesFile(path: string): Templates {
  const fail = (message: string): never => {
    throw new Error(`telephony.templatesFile ${path}: ${message}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    fail(error instanceof SyntaxError ? 'not valid JSON' : `cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('must hold a JSON object of languages');
  const overrides: TemplateOverrides = {};
  for (const [language, texts] of Object.entries(parsed as Record<string, unknown>)) {
    if (!LANGUAGE.test(language)) fail(`"${language}" is not a language tag in lower case (en, fr, pt-br)`);
    if (typeof texts !== 'object' || texts === null || Array.isArray(texts)) fail(`${language}: must be an object of template keys`);
    const set: Partial<TextSet> = {};
    for (const [key, text] of Object.entries(texts as Record<string, unknown>)) {
      if (!(TEMPLATE_KEYS as string[]).includes(key)) fail(`${language}.${key}: unknown template key (known: ${TEMPLATE_KEYS.join(', ')})`);
      if (typeof text !== 'string' || text.trim() === '' || text.length > 640) fail(`${language}.${key}: must be a text of 1 to 640 characters`);
      const required = REQUIRED[key as TemplateKey];
      if (required && !(text as string).includes(required)) fail(`${language}.${key}: must contain ${required}`);
      set[key as TemplateKey] = text as string;
    }
    overrides[language] = set;
  }
  return new Templates(overrides);
}
