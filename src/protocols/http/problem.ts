import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../shared/errors.js';
import { isDatabaseUnavailable } from '../../storage/availability.js';
import { isUnstorableText } from '../../storage/errors.js';

interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** The RFC 9457 problem document every error answers with. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance: string;
  request_id: string;
  [extra: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
};

function describeValidation(issue: AjvIssue, context: string): { field: string; message: string } {
  const path = [context, ...issue.instancePath.split('/').filter(Boolean)].join('.');
  if (issue.keyword === 'additionalProperties') {
    const extra = String(issue.params.additionalProperty);
    return { field: `${path}.${extra}`, message: `${path}: unknown field "${extra}"` };
  }
  if (issue.keyword === 'required') {
    const missing = String(issue.params.missingProperty);
    return { field: `${path}.${missing}`, message: `${path}.${missing}: required` };
  }
  return { field: path, message: `${path}: ${issue.message ?? 'invalid'}` };
}

function toProblem(error: FastifyError | AppError, request: FastifyRequest): Problem {
  const base = { instance: request.url, request_id: request.id };
  if (error instanceof AppError) {
    const detail = error.expose ? error.message : 'the server could not complete the request';
    return { type: `urn:countersign:problem:${error.code}`, title: TITLES[error.status] ?? 'Error', status: error.status, detail, code: error.code, ...base, ...(error.expose ? error.details : {}) };
  }
  // The database is down, restarting or too slow: the request may succeed if sent again (Retry-After).
  if (isDatabaseUnavailable(error)) {
    return { type: 'urn:countersign:problem:database_unavailable', title: 'Service Unavailable', status: 503, detail: 'the database is unavailable; try again shortly', code: 'database_unavailable', ...base };
  }
  if (isUnstorableText(error)) {
    return { type: 'urn:countersign:problem:validation_failed', title: 'Bad Request', status: 400, detail: 'a text of the request holds a character that cannot be stored', code: 'validation_failed', ...base };
  }
  const validation = (error as FastifyError & { validation?: AjvIssue[]; validationContext?: string }).validation;
  if (validation && validation[0]) {
    const { field, message } = describeValidation(validation[0], (error as { validationContext?: string }).validationContext ?? 'body');
    return { type: 'urn:countersign:problem:validation_failed', title: 'Bad Request', status: 400, detail: message, code: 'validation_failed', field, ...base };
  }
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  const code = FASTIFY_CODES[error.code] ?? (status === 500 ? 'internal_error' : 'malformed_request');
  const detail = status === 500 ? 'the server could not complete the request' : error.message;
  return { type: `urn:countersign:problem:${code}`, title: TITLES[status] ?? 'Error', status, detail, code, ...base };
}

/** Seconds a client is asked to wait before sending a request again that failed with 503. */
export const RETRY_AFTER_SECONDS = 2;

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem.status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  return reply.code(problem.status).type('application/problem+json').send(problem);
}

/** Every error leaves as application/problem+json; causes and stacks stay in the service log. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const problem = toProblem(error, request);
    if (problem.code === 'database_unavailable') request.log.warn({ err: error, event: 'database.unavailable' }, 'request refused: the database is unavailable');
    else if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
    // The code and field only: a detail may quote what the caller sent, a username for one (docs/privacy.md).
    else request.log.info({ code: problem.code, field: problem.field }, 'request refused');
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, {
      type: 'urn:countersign:problem:route_not_found',
      title: 'Not Found',
      status: 404,
      detail: `no route ${request.method} ${request.url.split('?')[0]}`,
      code: 'route_not_found',
      instance: request.url,
      request_id: request.id,
    }),
  );
}

/**
 * Fastify's router refuses some requests before any handler or hook runs: a
 * path that is not valid percent-encoding (400), a path parameter longer than
 * `maxParamLength` (414). They get the same problem documents as any error.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const base = { instance: request.url, request_id: request.id };
  // No hook has run: the request id is echoed here.
  reply.header('x-request-id', request.id);
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return sendProblem(reply, { type: 'urn:countersign:problem:uri_too_long', title: TITLES[414]!, status: 414, detail: 'a part of the path is too long', code: 'uri_too_long', ...base });
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    return sendProblem(reply, { type: 'urn:countersign:problem:malformed_request', title: TITLES[400]!, status: 400, detail: 'the path is not valid percent-encoded UTF-8', code: 'malformed_request', ...base });
  }
  request.log.error({ err: error }, 'request failed');
  return sendProblem(reply, { type: 'urn:countersign:problem:internal_error', title: TITLES[500]!, status: 500, detail: 'the server could not complete the request', code: 'internal_error', ...base });
}

/**
 * Errors Node's HTTP parser meets before there is a request: headers over the
 * size limit (431), a request not received in time (408), anything else it
 * cannot parse (400). Answered as problem documents, then the connection is
 * closed, as Node does.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'the request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request was not received in time (http.requestTimeoutSeconds)']
        : [400, 'malformed_request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ type: `urn:countersign:problem:${code}`, title: STATUS_CODES[status], status, detail, code, request_id: randomUUID() });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}
