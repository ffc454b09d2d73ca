import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { appError } from '../../shared/errors.js';

const common = { allErrors: false, strict: false, removeAdditional: false, useDefaults: true } as const;

// Bodies are JSON: they must arrive with the right types. Query strings and
// path parameters are text, so only they are coerced ("50" → 50).
const bodyAjv = new Ajv({ ...common, coerceTypes: false });
const textAjv = new Ajv({ ...common, coerceTypes: 'array' });
addFormats.default(bodyAjv);
addFormats.default(textAjv);

/**
 * Fastify's default Ajv strips unknown properties and coerces body types;
 * this one rejects unknown fields (schemas say additionalProperties: false)
 * and wrong types in bodies.
 */
export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const validate = (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object);
  return (data: unknown) => (validate(data) ? { value: data } : { error: Object.assign(new Error('validation failed'), { validation: validate.errors }) });
};

/** Control characters no text of the API may hold. Tab, line feed and carriage return are allowed in bodies (a reason may span lines). */
const BODY_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const LINE_CONTROL = /[\u0000-\u001f\u007f]/;

/** The path (`body.user.name`, `query.group`) of the first string in `value` that `pattern` matches, or null. */
function controlAt(value: unknown, path: string, pattern: RegExp, depth = 0): string | null {
  if (typeof value === 'string') return pattern.test(value) ? path : null;
  // Only what JSON makes: a raw body (a CSV file's Buffer) is checked by whoever reads it, row by row.
  if (value === null || typeof value !== 'object' || depth > 32 || ArrayBuffer.isView(value)) return null;
  for (const [key, item] of Object.entries(value)) {
    const found = controlAt(item, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`, pattern, depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * Every text the API receives, in the path, the query and a JSON body, is
 * refused when it holds a control character (a NUL above all: PostgreSQL
 * cannot store one, and it would end the request with a database error), on
 * every route, whether or not its schema says anything about the field.
 * Runs before the schemas, so the refusal names the field.
 */
export function installTextGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const field =
      controlAt(request.params, 'params', LINE_CONTROL) ??
      controlAt(request.query, 'query', LINE_CONTROL) ??
      (typeof request.body === 'object' ? controlAt(request.body, 'body', BODY_CONTROL) : null);
    if (field) throw appError('validation_failed', `${field}: must not contain control characters`, { field });
  });
}
