/**
 * One error type for the whole server. `code` is a stable snake_case string
 * that clients and scripts can match on; `status` is the HTTP status the
 * protocol layer answers with; `cause` is internal and never reaches a client.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  /** When false the client sees a generic message instead of `message`. */
  readonly expose: boolean;
  /** Extra machine-readable fields for the client (for example the field that is wrong). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: { status?: number; expose?: boolean; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? 400;
    this.expose = options.expose ?? this.status < 500;
    this.details = options.details;
  }
}

/** The errors the server raises, by code, with their HTTP status. */
export const ERRORS = {
  validation_failed: 400,
  malformed_request: 400,
  invalid_phone_number: 400,
  invalid_extension: 400,
  invalid_csv: 400,
  unknown_group: 400,
  unknown_security_question: 400,
  invalid_cursor: 400,
  invalid_oath_code: 400,
  invalid_oath_secret: 400,
  invalid_activation_code: 400,
  invalid_device_key: 400,
  sspr_not_verified: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  route_not_found: 404,
  user_not_found: 404,
  group_not_found: 404,
  admin_key_not_found: 404,
  oath_token_not_found: 404,
  security_question_not_found: 404,
  application_not_found: 404,
  device_not_found: 404,
  named_location_not_found: 404,
  policy_not_found: 404,
  app_password_not_found: 404,
  username_taken: 409,
  group_name_taken: 409,
  oath_serial_taken: 409,
  application_name_taken: 409,
  security_question_in_use: 409,
  conflict: 409,
  not_blocked: 409,
  named_location_name_taken: 409,
  named_location_in_use: 409,
  policy_name_taken: 409,
  sspr_not_registered: 409,
  request_timeout: 408,
  payload_too_large: 413,
  uri_too_long: 414,
  throttled: 429,
  unsupported_media_type: 415,
  headers_too_large: 431,
  config_invalid: 500,
  internal_error: 500,
  service_unavailable: 503,
  database_unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERRORS;

/** Builds an AppError whose status comes from the ERRORS table. */
export function appError(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): AppError {
  return new AppError(code, message, { status: ERRORS[code], details, cause });
}

/** Guard helper: throws the given AppError when the condition is false. */
export function assert(
  condition: unknown,
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
): asserts condition {
  if (!condition) throw appError(code, message, details);
}
