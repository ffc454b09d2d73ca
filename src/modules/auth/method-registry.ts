import type { Config } from '../../config/schema.js';
import { appError } from '../../shared/errors.js';
import type { Executor } from '../../storage/database.js';
import type { UserRow } from '../../storage/schema.js';
import type { MethodDescription, MethodName, VerificationMethod } from '../methods/contract.js';

/** Order in which `auto` picks a method when the user has no default. */
const AUTO_ORDER: MethodName[] = ['app', 'oath', 'sms', 'voice'];

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
  async describe(trx: Executor, user: UserRow, fallback: boolean): Promise<MethodDescription[]> {
    const allowed = (method: VerificationMethod) => {
      if (!fallback) return method.name !== 'questions';
      if (method.name === 'oath') return this.config.fallbackOath;
      if (method.name === 'questions') return this.config.fallbackQuestions;
      return false;
    };
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
   * user's default, else the first registered. A passcode given with `auto`
   * is answered at once: by the OATH method when the user has a token (the
   * authenticator app's code is one), never by starting a push or a call
   * that ignores it. Methods are asked in that order and no further than the
   * first the user has.
   */
  async choose(trx: Executor, user: UserRow, factor: 'auto' | MethodName, withPasscode = false): Promise<VerificationMethod | null> {
    const auto: (MethodName | null)[] = [user.default_method as MethodName | null, ...AUTO_ORDER];
    const order = factor !== 'auto' ? [factor] : withPasscode ? ['oath' as const, ...auto] : auto;
    for (const name of order) {
      const method = name === null || name === 'questions' ? undefined : this.methods.get(name);
      if (method && (await method.describe(trx, user))) return method;
    }
    return null;
  }
}
