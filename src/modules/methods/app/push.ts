import { EventEmitter } from 'node:events';
import type { Config } from '../../../config/schema.js';

/** One device to notify of a push. */
export interface PushTarget {
  deviceId: string;
  /** The push service's token for the device (FCM, APNs...), when it gave one. */
  pushToken: string | null;
}

/** What a push says, as little as a lock screen needs: never the matching number. */
export interface PushMessage {
  challengeId: string;
  application: string;
  expiresAt: number;
}

/**
 * Tells devices that a push waits for them. Devices always learn of pushes
 * through their signed long poll; a notifier also wakes them through a push
 * service. `failed` means no device could be notified at all.
 */
export interface PushNotifier {
  readonly name: string;
  notify(targets: PushTarget[], message: PushMessage): Promise<{ status: 'sent' | 'failed'; error?: string }>;
}

/** Devices hold a long poll open: nothing to send. */
export const pollNotifier: PushNotifier = {
  name: 'poll',
  async notify() {
    return { status: 'sent' };
  },
};

/**
 * A relay to FCM / APNs (or any push service) that takes a webhook: one JSON
 * POST per device with a push token, `{device_id, push_token, challenge_id,
 * application, expires_at}`. Devices without a token rely on their long poll.
 * Failed when every device with a token could not be notified.
 */
export function webhookNotifier(config: Pick<Config['app'], 'pushWebhookUrl' | 'pushWebhookAuthorization' | 'pushTimeoutMs'>): PushNotifier {
  return {
    name: 'webhook',
    async notify(targets, message) {
      const withToken = targets.filter((target) => target.pushToken !== null);
      if (withToken.length === 0) return { status: 'sent' };
      const errors: string[] = [];
      for (const target of withToken) {
        try {
          const response = await fetch(config.pushWebhookUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(config.pushWebhookAuthorization ? { authorization: config.pushWebhookAuthorization } : {}) },
            body: JSON.stringify({
              device_id: target.deviceId,
              push_token: target.pushToken,
              challenge_id: message.challengeId,
              application: message.application,
              expires_at: new Date(message.expiresAt).toISOString(),
            }),
            signal: AbortSignal.timeout(config.pushTimeoutMs),
            redirect: 'error',
          });
          await response.arrayBuffer().catch(() => undefined);
          if (!response.ok) errors.push(`HTTP ${response.status}`);
        } catch (error) {
          errors.push(error instanceof Error && error.name === 'TimeoutError' ? 'no answer in time' : String((error as Error).cause ?? error));
        }
      }
      return errors.length === withToken.length ? { status: 'failed', error: errors.join('; ') } : { status: 'sent' };
    },
  };
}

export function notifierOf(config: Config['app']): PushNotifier {
  return config.pushGateway === 'webhook' ? webhookNotifier(config) : pollNotifier;
}

/**
 * Wakes the long polls of a user's devices when a push for them is
 * committed, on this node; a poll on another node sees it at its next check.
 */
export class PushBoard {
  private readonly events = new EventEmitter();

  constructor() {
    this.events.setMaxListeners(0);
  }

  announce(userId: string): void {
    this.events.emit(userId);
  }

  /** Resolves when a push for the user is announced, or after `ms`. */
  wait(userId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off(userId, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.events.once(userId, done);
    });
  }
}
