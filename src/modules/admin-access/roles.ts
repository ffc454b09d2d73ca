/** Administrator roles, as SPEC.md and the well-known directory name them. Wire values are snake_case. */
export const ROLES = {
  global_administrator: 'Global Administrator',
  privileged_authentication_administrator: 'Privileged Authentication Administrator',
  authentication_administrator: 'Authentication Administrator',
  reports_reader: 'Reports Reader',
} as const;

export type Role = keyof typeof ROLES;
export const ROLE_NAMES = Object.keys(ROLES) as [Role, ...Role[]];

/** Accepts the wire value, its kebab-case form or the display name ("Reports Reader"). */
export function parseRole(text: string): Role | null {
  const normalised = text.trim().toLowerCase().replace(/[\s-]+/g, '_');
  return (ROLE_NAMES as string[]).includes(normalised) ? (normalised as Role) : null;
}

/** Who may do what. Every admin route names one of these; the role × route test walks them all. */
export const ACCESS = {
  /** Read the directory: users, groups. */
  directoryRead: ['global_administrator', 'privileged_authentication_administrator', 'authentication_administrator', 'reports_reader'],
  /** Change users' MFA settings (phones, PIN, MFA state). */
  directoryUpdate: ['global_administrator', 'privileged_authentication_administrator', 'authentication_administrator'],
  /** Create, delete and import users; manage groups. */
  directoryWrite: ['global_administrator', 'privileged_authentication_administrator'],
  /** Register applications of the Auth API and rotate their secrets. */
  applicationsWrite: ['global_administrator', 'privileged_authentication_administrator'],
  /** Block, unblock and grant one-time bypasses: everyday work of authentication administrators. */
  userSecurity: ['global_administrator', 'privileged_authentication_administrator', 'authentication_administrator'],
  /** Read reports: block and bypass history, sign-ins, attempts. */
  reportsRead: ['global_administrator', 'privileged_authentication_administrator', 'authentication_administrator', 'reports_reader'],
  /** Read conditional access: named locations and policies (those who read the sign-in log see why). */
  accessRead: ['global_administrator', 'privileged_authentication_administrator', 'authentication_administrator', 'reports_reader'],
  /** Change conditional access: named locations and policies decide who needs MFA for everyone. */
  accessWrite: ['global_administrator', 'privileged_authentication_administrator'],
  /** Privacy requests (SPEC.md §6): export and erase everything about a user, read the user's service-log lines. */
  privacy: ['global_administrator', 'privileged_authentication_administrator'],
  /** Run the retention purge now. */
  retention: ['global_administrator'],
  /** Read the audit log. */
  auditRead: ['global_administrator', 'privileged_authentication_administrator', 'reports_reader'],
  /** Manage admin API keys. */
  adminKeys: ['global_administrator'],
} as const satisfies Record<string, readonly Role[]>;
