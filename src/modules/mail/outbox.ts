import type { MailGateway } from './gateway.js';

/**
 * The mail outbox: nothing leaves the server. Every e-mail is kept in the
 * mail log with its text, for `countersign outbox mail`, so a fresh install
 * can try password reset without a mail server. Not for production: anyone
 * who can read the outbox can read the codes and links in it.
 */
export const outboxMailGateway: MailGateway = {
  name: 'outbox',
  keepsBody: true,
  async send() {
    return { status: 'stored', providerId: null };
  },
};
