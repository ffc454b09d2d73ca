import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

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
