import { next, type ReadingRule, type SatisfyInput } from './rule.js';

/** The pairs of access.trustedBrokers, parsed once per configuration text. */
const parsed = new Map<string, { application: string; entryPoint: string }[]>();
function brokers(setting: string): { application: string; entryPoint: string }[] {
  let list = parsed.get(setting);
  if (!list) {
    list = setting
      .split(',')
      .filter((pair) => pair.trim() !== '')
      .map((pair) => {
        const [application, entryPoint] = pair.split('/');
        return { application: application!.trim().toLowerCase(), entryPoint: entryPoint!.trim() };
      });
    parsed.set(setting, list);
  }
  return list;
}

/**
 * SPEC.md §3 "skipped as flow exercised was Windows broker logon flow": a
 * configured application signing users in through a configured entry point
 * (a workstation logon broker that did strong authentication itself) skips
 * MFA. Both must match: an application cannot claim another's entry point.
 */
export const trustedBroker: ReadingRule<SatisfyInput, 'not_a_broker_flow' | 'broker_flow'> = {
  name: 'trusted_broker',
  effects: 'none',
  async evaluate({ access, application, entryPoint }) {
    const match = brokers(access.trustedBrokers).some((broker) => broker.application === application.name.toLowerCase() && broker.entryPoint === entryPoint);
    if (!match) return next('not_a_broker_flow');
    return {
      outcome: 'allow',
      reason: { code: 'broker_flow', application: application.name, entry_point: entryPoint },
      code: null,
      detail: 'skipped as flow exercised was Windows broker logon flow',
      mfaRequired: true,
    };
  },
};
