import type { Clock } from '../../shared/clock.js';
import { decodeCursor, encodeCursor } from '../../shared/cursor.js';
import { appError, assert } from '../../shared/errors.js';
import { orderedId } from '../../shared/ids.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import { telephonyRepository } from '../../storage/repositories/telephony.js';
import type { TelephonyLogRow, UserRow } from '../../storage/schema.js';
import type { Page } from '../directory/directory.js';
import type { Delivery, VerificationMethod } from '../methods/contract.js';
import { canCall, type CallResult, type OutboundCall, type TelephonyGateway } from './gateway.js';

/** A telephony log entry as the API and CLI show it. */
export interface TelephonyLogView {
  id: string;
  username: string;
  kind: 'sms' | 'call';
  direction: 'outbound' | 'inbound';
  gateway: string;
  /** The number in E.164: the recipient of an outbound message, the sender of an inbound one. */
  to: string;
  /** The text, kept by the outbox gateway only. */
  body: string | null;
  provider_id: string | null;
  status: string;
  history: { status: string; at: string }[];
  cost: string | null;
  error: string | null;
  created_at: string;
}

const toView = (row: TelephonyLogRow): TelephonyLogView => ({
  id: row.id,
  username: row.username,
  kind: row.kind as TelephonyLogView['kind'],
  direction: row.direction as TelephonyLogView['direction'],
  gateway: row.gateway,
  to: row.to_number,
  body: row.body,
  provider_id: row.provider_id,
  status: row.status,
  history: JSON.parse(row.history) as { status: string; at: string }[],
  cost: row.cost,
  error: row.error,
  created_at: new Date(row.created_at).toISOString(),
});

/**
 * A log entry as the privacy export shows it: the number, provider id, status
 * history and cost. A text message's words are withheld, as the mail log's
 * are: they held a one-time code (sent) or the user's answer with it (a
 * reply), which an export must not hand on. A call's greeting is shown.
 */
function exportedEntry(row: TelephonyLogRow) {
  const { to, username: _username, error: _error, ...entry } = toView(row);
  const body = row.kind === 'sms' && entry.body !== null ? WITHHELD : entry.body;
  return { ...entry, body, number: to };
}

/** What the privacy export says in place of a message that held a one-time code. */
export const WITHHELD = 'kept by the outbox; not exported (it held a one-time code)';

/**
 * A method's share of the telephony log in the privacy export and delete:
 * the entries of its kind (texts for SMS, calls for voice), under `key`.
 */
export function telephonyUserData(kind: 'sms' | 'call', key: string): Pick<VerificationMethod, 'exportUserData' | 'deleteUserData'> {
  return {
    async exportUserData(db, userId) {
      const rows = await telephonyRepository.list(db, { userId, kind, limit: 100_000 });
      return { [key]: rows.map(exportedEntry) };
    },
    async deleteUserData(db, userId) {
      return { [key]: await telephonyRepository.deleteOfUser(db, userId, kind) };
    },
  };
}

/**
 * Sends text messages and places calls through the configured gateway and
 * writes each to the telephony log (SPEC.md §1, issue: every SMS and call with
 * its provider id, status history and cost).
 */
export class Telephony {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; clock: Clock; gateway: TelephonyGateway }) {}

  get gatewayName(): string {
    return this.deps.gateway.name;
  }

  /**
   * Logs a text message for `user` with `db` (the challenge's transaction)
   * and returns its delivery: the engine hands it to the gateway once that
   * transaction has committed.
   */
  async prepareSms(db: Executor, user: Pick<UserRow, 'id' | 'username'>, challengeId: string, to: string, body: string): Promise<Delivery> {
    const id = orderedId();
    await this.logOutbound(db, { id, user, kind: 'sms', to, body, challengeId });
    const gateway = this.deps.gateway;
    return { id, challengeId, send: () => this.deliver(id, () => gateway.sendSms({ to, body, reference: id })) };
  }

  /** True when the gateway can place voice calls (the outbox, and Twilio with a public URL). */
  get canCall(): boolean {
    return canCall(this.deps.gateway);
  }

  /**
   * Logs a voice call for the challenge `challengeId` with `db` and returns
   * its delivery, like `prepareSms`. `greeting` is kept in the log only by a
   * gateway that keeps texts (the outbox); keys pressed are never logged.
   */
  async prepareCall(
    db: Executor,
    user: Pick<UserRow, 'id' | 'username'>,
    challengeId: string,
    call: Omit<OutboundCall, 'reference'> & { greeting: string },
  ): Promise<Delivery> {
    const id = orderedId();
    await this.logOutbound(db, { id, user, kind: 'call', to: call.to, body: call.greeting, challengeId });
    const gateway = this.deps.gateway;
    const place = async (): Promise<CallResult> =>
      canCall(gateway)
        ? gateway.placeCall({ to: call.to, extension: call.extension, ringSeconds: call.ringSeconds, reference: id })
        : { status: 'failed', providerId: null, error: `the ${gateway.name} gateway places no calls` };
    return { id, challengeId, send: () => this.deliver(id, place) };
  }

  /**
   * Hands a logged message or call to the gateway and records its answer: the
   * provider id, status, cost, or why it failed. A gateway that throws counts
   * as a refusal.
   */
  private async deliver(id: string, send: () => Promise<CallResult>): Promise<CallResult> {
    let result: CallResult;
    try {
      result = await send();
    } catch (error) {
      result = { status: 'failed', providerId: null, error: error instanceof Error ? error.message : String(error) };
    }
    const now = this.deps.clock.now();
    await this.deps.transact(async (trx) => {
      const current = await telephonyRepository.findById(trx, id);
      if (!current) return; // deleted meanwhile (the user was erased): nothing to record
      const history = [{ status: result.status, at: new Date(now).toISOString() }, ...(JSON.parse(current.history) as { status: string; at: string }[])];
      await telephonyRepository.update(trx, id, {
        // A status callback may have come first; it is newer than the gateway's first answer.
        status: current.history === '[]' ? result.status : current.status,
        provider_id: current.provider_id ?? result.providerId,
        cost: current.cost ?? result.cost ?? null,
        error: result.error ?? current.error,
        history: JSON.stringify(history),
        updated_at: now,
      });
    });
    return result;
  }

  /**
   * The call `logId`, when it is a call this gateway placed and, when both
   * are known, has the provider id the webhook names; not_found otherwise, so
   * a forged or misrouted webhook reaches no challenge.
   */
  async findCall(logId: string, gateway: string, providerId: string | null): Promise<TelephonyLogRow> {
    const row = await telephonyRepository.findById(this.deps.db, logId);
    if (!row || row.kind !== 'call' || row.gateway !== gateway || (providerId !== null && row.provider_id !== null && row.provider_id !== providerId)) {
      throw appError('not_found', `call ${logId} is not one this gateway placed`);
    }
    return row;
  }

  private async logOutbound(
    db: Executor,
    entry: { id: string; user: Pick<UserRow, 'id' | 'username'>; kind: 'sms' | 'call'; to: string; body: string; challengeId: string },
  ): Promise<void> {
    const now = this.deps.clock.now();
    const gateway = this.deps.gateway;
    await telephonyRepository.insert(db, {
      id: entry.id,
      user_id: entry.user.id,
      username: entry.user.username,
      kind: entry.kind,
      direction: 'outbound',
      gateway: gateway.name,
      to_number: entry.to,
      body: gateway.keepsBody ? entry.body : null,
      provider_id: null,
      // Until the gateway answers (just after the challenge commits): then the gateway's status starts the history.
      status: 'sending',
      history: '[]',
      cost: null,
      error: null,
      created_at: now,
      updated_at: now,
      challenge_id: entry.challengeId,
    });
  }

  /**
   * Logs a text message a user sent (a two-way reply), under the first user
   * whose primary phone it came from. The text is kept only when the gateway
   * keeps texts (the outbox): it is usually a one-time code.
   */
  async recordInbound(message: { gateway: string; from: string; body: string; providerId: string | null }): Promise<TelephonyLogView> {
    const now = this.deps.clock.now();
    const sender = await telephonyRepository.senderOf(this.deps.db, message.from);
    const row = {
      id: orderedId(),
      user_id: sender?.id ?? null,
      username: sender?.username ?? '(unknown sender)',
      kind: 'sms',
      direction: 'inbound',
      gateway: message.gateway,
      to_number: message.from,
      body: message.gateway === this.deps.gateway.name && this.deps.gateway.keepsBody ? message.body : null,
      provider_id: message.providerId,
      status: 'received',
      history: JSON.stringify([{ status: 'received', at: new Date(now).toISOString() }]),
      cost: null,
      error: null,
      created_at: now,
      updated_at: now,
      challenge_id: null,
    };
    await telephonyRepository.insert(this.deps.db, row);
    return toView(row);
  }

  /**
   * A status a provider reported later (a delivery receipt): appended to the
   * entry's history. The entry must be this gateway's and, when both are
   * known, carry the same provider id; otherwise the report is refused
   * (not_found), so a forged or misrouted report changes nothing.
   */
  async recordStatus(logId: string, report: { gateway: string; providerId: string | null; status: string; error?: string | null; cost?: string | null }): Promise<TelephonyLogView> {
    const row = await this.deps.transact(async (trx) => {
      const current = await telephonyRepository.findById(trx, logId);
      if (!current || current.gateway !== report.gateway || (current.provider_id !== null && report.providerId !== null && current.provider_id !== report.providerId)) {
        throw appError('not_found', `message ${logId} is not one this gateway sent`);
      }
      const now = this.deps.clock.now();
      const history = [...(JSON.parse(current.history) as { status: string; at: string }[]), { status: report.status, at: new Date(now).toISOString() }];
      const patch = {
        status: report.status,
        provider_id: report.providerId ?? current.provider_id,
        history: JSON.stringify(history),
        error: report.error ?? current.error,
        cost: report.cost ?? current.cost,
        updated_at: now,
      };
      await telephonyRepository.update(trx, logId, patch);
      return { ...current, ...patch };
    });
    return toView(row);
  }

  /** The telephony log, newest first: everything, one gateway's (the outbox), or one user's. */
  /** One log entry. */
  async get(id: string): Promise<TelephonyLogView> {
    const row = await telephonyRepository.findById(this.deps.db, id);
    if (!row) throw appError('not_found', `telephony log entry ${id} does not exist`);
    return toView(row);
  }

  async list(options: { gateway?: string; userId?: string; cursor?: string; limit?: number }): Promise<Page<TelephonyLogView>> {
    const limit = options.limit ?? 50;
    assert(Number.isInteger(limit) && limit >= 1 && limit <= 1000, 'validation_failed', 'limit: must be a whole number from 1 to 1000', { field: 'limit' });
    const before = options.cursor === undefined ? undefined : parseCursor(decodeCursor<string>(options.cursor, 'string'));
    const rows = await telephonyRepository.list(this.deps.db, { gateway: options.gateway, userId: options.userId, before, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toView), next_cursor: rows.length > limit && last ? encodeCursor(`${Number(last.created_at)}:${last.id}`) : null };
  }
}

function parseCursor(key: string): { createdAt: number; id: string } {
  const colon = key.indexOf(':');
  const createdAt = Number(key.slice(0, colon));
  if (colon <= 0 || !Number.isSafeInteger(createdAt)) throw appError('invalid_cursor', 'cursor is not one this server returned');
  return { createdAt, id: key.slice(colon + 1) };
}
