// Imports nothing: the download's worker threads load it with the formatter (modules/reports/signin-export-format.ts).

/** The columns of a sign-in download in JSON Lines, the sign-in list's fields in this order (the order the formatter reads them). */
export const SIGNIN_EXPORT_COLUMNS = [
  'id', 'at', 'username', 'application', 'ip', 'auth_type', 'entry_point', 'status', 'mfa_required',
  'policy', 'method', 'result_code', 'detail', 'push_fatigue', 'client_type', 'device_id',
] as const;
