import type { TelephonyGateway } from './gateway.js';

/**
 * The outbox: nothing leaves the server. Every message is kept in the
 * telephony log with its text, for `countersign outbox` and
 * `GET /admin/v1/outbox`, so a fresh install can try every flow without a
 * carrier. Not for production: anyone who can read the outbox can read the
 * one-time codes in it.
 */
export const outboxGateway: TelephonyGateway = {
  name: 'outbox',
  keepsBody: true,
  async sendSms() {
    return { status: 'stored', providerId: null };
  },
};
