/** An OpenAPI document as @fastify/swagger builds it: only the parts changed here. */
interface OpenApiDocument {
  paths?: Record<string, Record<string, Operation>>;
  [key: string]: unknown;
}
interface Operation {
  requestBody?: unknown;
  parameters?: { in?: string }[];
  responses?: Record<string, { description?: string; content?: Record<string, unknown> }>;
}

const PROBLEM_MEDIA = 'application/problem+json';

/** Answers any operation may give, besides those its route declares (problem documents). */
const COMMON: Record<string, string> = {
  '408': 'The request was not received within http.requestTimeoutSeconds.',
  '431': 'The request headers are too large.',
  '503': 'The database is unavailable or did not answer in time (database_unavailable); Retry-After says when to try again.',
};
const WITH_BODY: Record<string, string> = {
  '413': 'The body is larger than http.bodyLimit (http.importBodyLimit for CSV).',
  '415': 'The body is not of a media type the route takes.',
};
const WITH_PATH: Record<string, string> = { '414': 'A part of the path is too long.' };

/**
 * Makes the document say what the server sends: every error answer is an
 * RFC 9457 problem document of media type application/problem+json (Fastify
 * would call them application/json), and the errors any route can give (a
 * database away, an oversized body or header, a path part too long) are
 * listed on each operation.
 */
export function describeProblems(document: OpenApiDocument, problemSchema: unknown): OpenApiDocument {
  const problem = { [PROBLEM_MEDIA]: { schema: problemSchema } };
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      const responses = (operation.responses ??= {});
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400 || !response.content) continue;
        const schema = Object.values(response.content)[0];
        response.content = { [PROBLEM_MEDIA]: schema ?? { schema: problemSchema } };
      }
      const extra = { ...COMMON, ...(operation.requestBody ? WITH_BODY : {}), ...(operation.parameters?.some((parameter) => parameter.in === 'path') ? WITH_PATH : {}) };
      for (const [status, description] of Object.entries(extra)) responses[status] ??= { description, content: problem };
    }
  }
  return document;
}
