import type { Config } from '../../config/schema.js';
import { appError } from '../../shared/errors.js';
import type { Unit } from '../../storage/database.js';
import type { UserRow } from '../../storage/schema.js';
import { METHOD_NAMES, type MethodDescription, type MethodName, type VerificationMethod } from '../methods/contract.js';

/** The installed verification methods, and which of them a user can use. */
export class MethodRegistry {
  private readonly methods: Map<MethodName, VerificationMethod>;

  constructor(
    methods: VerificationMethod[],
    private readonly config: Config['auth'],
  ) {
    this.methods = new Map(methods.map((method) => [method.name, method]));
  }

  has(name: string): boolean {
    return this.methods.has(name as MethodName);
  }

  get(name: string): VerificationMethod {
    const method = this.methods.get(name as MethodName);
    if (!method) throw appError('internal_error', `method ${name} is not installed`);
    return method;
  }

  /** The user's registered methods: primary ones, or (fallback = true) those the configuration allows as fallback. */
  async describe(trx: Unit, user: UserRow, fallback: boolean): Promise<MethodDescription[]> {
    const allowed = (method: VerificationMethod) => (fallback ? method.fallback !== null && this.config[method.fallback.allowedBy] : !method.fallbackOnly);
    const found: MethodDescription[] = [];
    for (const method of this.methods.values()) {
      if (!allowed(method)) continue;
      const description = await method.describe(trx, user);
      if (description) found.push(description);
    }
    return found;
  }

  /**
   * The method for `factor`: the named one if registered; for `auto` the
   * user's default, else the first registered in METHOD_NAMES order. A
   * passcode given with `auto` is answered at once: by a method that checks
   * a passcode at the start (OATH, when the user has a token: the
   * authenticator app's code is one), never by starting a push or a call
   * that ignores it. Methods are asked in that order and no further than the
   * first the user has.
   */
  async choose(trx: Unit, user: UserRow, factor: 'auto' | MethodName, withPasscode = false): Promise<VerificationMethod | null> {
    const installed = (names: readonly (string | null)[]) => names.flatMap((name) => (name !== null && this.methods.has(name as MethodName) ? [this.methods.get(name as MethodName)!] : []));
    const auto = installed([user.default_method, ...METHOD_NAMES]);
    const order = factor !== 'auto' ? installed([factor]) : withPasscode ? [...auto.filter((method) => method.checksPasscodeAtStart), ...auto] : auto;
    for (const method of order) {
      if (!method.fallbackOnly && (await method.describe(trx, user))) return method;
    }
    return null;
  }

  /** The offered fallback method an answer is for: the one whose answer it carries. */
  fallbackFor(offered: readonly MethodName[], response: { passcode?: string; answers?: unknown }): VerificationMethod | null {
    for (const name of offered) {
      const method = this.get(name);
      if (method.fallback && response[method.fallback.answer] !== undefined) return method;
    }
    return null;
  }
}
