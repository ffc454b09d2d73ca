import { randomBytes } from 'node:crypto';
import type { PendingPush } from '../modules/auth/engine.js';
import { DEVICE_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, generateDeviceKey, signParts } from '../modules/methods/app/protocol.js';

/** What a device keeps after activation: its id, its private key, where its server is. */
export interface DeviceIdentity {
  url: string;
  deviceId: string;
  privateKeyPem: string;
  account: string;
  issuer: string;
  /** The OATH secret provisioned at activation (base32), for offline codes. */
  oath: { secret: string; algorithm: string; digits: number; period: number } | null;
  /** The server's clock minus the device's: added to the timestamps the device signs. */
  clockOffsetMs: number;
}

/** A push as the device API lists it. */
export type PushView = PendingPush;

export interface AnswerBody {
  decision: 'approve' | 'deny' | 'fraud';
  number?: string;
  pin?: string;
  new_pin?: string;
}

export interface ClientOptions {
  /** The clock requests are signed with (the system clock unless a test gives another). */
  now?: () => number;
}

/** An error answer of the server: its HTTP status and problem code. */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ServerError';
  }
}

/** Reads an activation as the administrator handed it: the countersign://activate URI, or a server URL and a code. */
export function parseActivation(uriOrUrl: string, code?: string): { url: string; code: string } {
  if (uriOrUrl.startsWith('countersign://activate')) {
    const query = new URLSearchParams(uriOrUrl.slice(uriOrUrl.indexOf('?') + 1));
    const url = query.get('url');
    const given = query.get('code');
    if (!url || !given) throw new Error('the activation URI has no url or no code');
    return { url, code: given };
  }
  if (!/^https?:\/\//.test(uriOrUrl)) throw new Error('give the countersign://activate URI, or the server URL (http:// or https://) and the code');
  if (!code) throw new Error('give the activation code after the server URL');
  return { url: uriOrUrl.replace(/\/+$/, ''), code };
}

async function answerOf<T>(response: Response): Promise<T> {
  const text = await response.text();
  const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!response.ok) throw new ServerError(response.status, String(body.code ?? 'error'), String(body.detail ?? `HTTP ${response.status}`));
  return body as T;
}

/**
 * The device side of docs/authenticator-protocol.md: activation, the signed
 * long poll for pushes, signed answers. What `countersign-authenticator` is
 * built on, and what a phone app would do.
 */
export class AuthenticatorClient {
  constructor(
    readonly identity: DeviceIdentity,
    private readonly options: ClientOptions = {},
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Makes a key pair, activates with the code, and returns the new device's identity. */
  static async activate(
    url: string,
    code: string,
    device: { name: string; type: string; appVersion?: string; osVersion?: string; pushToken?: string },
    options: ClientOptions = {},
  ): Promise<AuthenticatorClient> {
    const { privateKeyPem, publicJwk } = generateDeviceKey();
    const base = url.replace(/\/+$/, '');
    const response = await fetch(`${base}/app/v1/activate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        code,
        public_key: publicJwk,
        device_name: device.name,
        device_type: device.type,
        ...(device.appVersion ? { app_version: device.appVersion } : {}),
        ...(device.osVersion ? { os_version: device.osVersion } : {}),
        ...(device.pushToken ? { push_token: device.pushToken } : {}),
      }),
    });
    const activated = await answerOf<{ device_id: string; account: string; issuer: string; oath: DeviceIdentity['oath']; server_time: number }>(response);
    const clockOffsetMs = activated.server_time - (options.now ?? Date.now)();
    return new AuthenticatorClient(
      { url: base, deviceId: activated.device_id, privateKeyPem, account: activated.account, issuer: activated.issuer, oath: activated.oath, clockOffsetMs },
      options,
    );
  }

  /** Pushes waiting for this device; waits up to `waitSeconds` (at most 60) for one. */
  async pushes(waitSeconds = 0): Promise<PushView[]> {
    return (await this.signed<{ pushes: PushView[] }>('GET', `/app/v1/challenges?wait=${waitSeconds}`)).pushes;
  }

  async answer(txid: string, body: AnswerBody): Promise<{ result: string; result_code: string | null; status_msg: string }> {
    return this.signed('POST', `/app/v1/challenges/${encodeURIComponent(txid)}/answer`, body);
  }

  async device(): Promise<Record<string, unknown>> {
    return this.signed('GET', '/app/v1/device');
  }

  /** A one-time activation code for another device of this user (`uri` for its QR code). */
  async newActivation(): Promise<{ code: string; url: string; uri: string; expires_at: string }> {
    return this.signed('POST', '/app/v1/device/activation');
  }

  async setPushToken(token: string): Promise<void> {
    await this.signed('PUT', '/app/v1/device/push-token', { push_token: token });
  }

  /** The headers of a request signed with the device key (exported for tests that tamper with them). */
  signHeaders(method: string, path: string, body: string): Record<string, string> {
    const timestamp = String(Math.round(this.now() + this.identity.clockOffsetMs));
    const nonce = randomBytes(18).toString('base64url');
    const signature = signParts(this.identity.privateKeyPem, { method, path, timestamp, nonce, body });
    return { [DEVICE_HEADER]: this.identity.deviceId, [TIMESTAMP_HEADER]: timestamp, [NONCE_HEADER]: nonce, [SIGNATURE_HEADER]: signature };
  }

  /** Sets the clock offset from the server's clock; true when it changed by more than a second. */
  async syncClock(): Promise<boolean> {
    const { now } = await answerOf<{ now: number }>(await fetch(`${this.identity.url}/app/v1/time`));
    const offset = now - this.now();
    const changed = Math.abs(offset - this.identity.clockOffsetMs) > 1000;
    this.identity.clockOffsetMs = offset;
    return changed;
  }

  /**
   * A signed request. When it is refused as unauthenticated and the clocks
   * have drifted apart, the offset is corrected and the request signed again
   * once (with a new nonce: a replay it is not).
   */
  private async signed<T>(method: string, path: string, body?: unknown): Promise<T> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const send = () => {
      const headers = { ...this.signHeaders(method, path, text), ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
      return fetch(`${this.identity.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: text }) });
    };
    let response = await send();
    if (response.status === 401 && (await this.syncClock())) response = await send();
    return answerOf<T>(response);
  }
}
