import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  ErrorKind,
  MedwardError,
  httpStatusOf,
  isMedwardError,
  type ErrorDetails,
} from '../core/errors.js';

/** The one error body of every API response with a 4xx or 5xx status. */
export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({
          description: 'Stable machine code, for example API_VALIDATION_FAILED',
        }),
        message: Type.String(),
        details: Type.Object({}, { additionalProperties: true }),
        requestId: Type.String({ description: 'Also in the X-Request-Id response header' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** Response schemas shared by every route for its error statuses. */
export const errorResponses = {
  '4xx': ErrorBodySchema,
  '5xx': ErrorBodySchema,
};

export interface ErrorResponse {
  status: number;
  code: string;
  message: string;
  details: ErrorDetails;
  headers?: Record<string, string>;
}

export interface ValidationIssue {
  instancePath?: string;
  message?: string;
}

const UNAUTHENTICATED_MESSAGE =
  'authentication failed: send a valid, unexpired and unrevoked API token as ' +
  '"Authorization: Bearer mwd_..."';

/** Messages that replace storage errors, whose own text names tables and driver codes. */
const storageMessages: Partial<Record<ErrorKind, string>> = {
  conflict: 'the change conflicts with stored data; read the resource again and retry',
  timeout: 'the database did not answer in time; retry later',
  unavailable: 'the database is unavailable; retry later',
};

/** Fastify's own errors by code, mapped to the status and body medward sends instead. */
const frameworkErrors: Readonly<Record<string, Omit<ErrorResponse, 'details'>>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: 'API_MALFORMED_JSON',
    message: 'request body is not valid JSON; send one JSON object',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'API_MALFORMED_JSON',
    message: 'request body is empty but declared as JSON; send one JSON object',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'API_BODY_TOO_LARGE',
    message: 'request body exceeds the limit set by api.bodyLimitBytes',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'API_UNSUPPORTED_MEDIA_TYPE',
    message: 'request body media type is not supported; send Content-Type: application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'API_CONTENT_LENGTH_INVALID',
    message: 'Content-Length does not match the body that was sent',
  },
  FST_ERR_HANDLER_TIMEOUT: {
    status: httpStatusOf(ErrorKind.Timeout),
    code: 'API_REQUEST_TIMEOUT',
    message:
      'request exceeded api.requestTimeoutMs; a change it made may still have been applied, ' +
      'so read the resource before retrying',
  },
};

/** Builds the outward 401 of every authentication failure, whatever its internal reason. */
export function unauthenticatedError(): MedwardError {
  return new MedwardError(
    ErrorKind.Unauthenticated,
    'API_UNAUTHENTICATED',
    UNAUTHENTICATED_MESSAGE,
  );
}

/**
 * Maps anything a route, hook or Fastify itself threw to the status and error
 * body the client receives. Internal details (driver messages, stack traces,
 * the reason an authentication failed) never reach the body; the caller logs
 * the original error.
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (isMedwardError(error)) {
    return fromMedwardError(error);
  }
  const fastifyError = error as Partial<FastifyError> & { validation?: ValidationIssue[] };
  if (Array.isArray(fastifyError.validation)) {
    return validationFailed(fastifyError.validation, fastifyError.validationContext ?? 'request');
  }
  const framework =
    fastifyError.code === undefined ? undefined : frameworkErrors[fastifyError.code];
  if (framework !== undefined) {
    return { ...framework, details: {} };
  }
  const statusCode = fastifyError.statusCode;
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    return {
      status: statusCode,
      code: 'API_BAD_REQUEST',
      message: fastifyError.message ?? 'bad request',
      details: {},
    };
  }
  return internalError();
}

function fromMedwardError(error: MedwardError): ErrorResponse {
  if (error.kind === ErrorKind.Unauthenticated) {
    return {
      status: 401,
      code: 'API_UNAUTHENTICATED',
      message: UNAUTHENTICATED_MESSAGE,
      details: {},
      headers: { 'www-authenticate': 'Bearer realm="medward"' },
    };
  }
  if (error.kind === ErrorKind.Internal) {
    return internalError();
  }
  const status = httpStatusOf(error.kind);
  if (error.code.startsWith('STORAGE_')) {
    const message = storageMessages[error.kind] ?? 'the database rejected the change';
    return { status, code: error.code, message, details: {} };
  }
  const retryAfterSeconds = error.details.retryAfterSeconds;
  const headers: Record<string, string> =
    error.kind === ErrorKind.RateLimited && typeof retryAfterSeconds === 'number'
      ? { 'retry-after': String(retryAfterSeconds) }
      : {};
  return { status, code: error.code, message: error.message, details: error.details, headers };
}

/** Builds the 400 listing each failing field once, as a JSON Pointer prefixed by the request part. */
function validationFailed(issues: readonly ValidationIssue[], part: string): ErrorResponse {
  const seen = new Set<string>();
  const problems: { path: string; message: string }[] = [];
  for (const issue of issues) {
    const path = `/${part}${issue.instancePath ?? ''}`;
    if (!seen.has(path)) {
      seen.add(path);
      problems.push({ path, message: issue.message ?? 'invalid value' });
    }
  }
  return {
    status: 400,
    code: 'API_VALIDATION_FAILED',
    message: `request is invalid at ${problems.map((p) => p.path).join(', ')}; correct these fields`,
    details: { problems },
  };
}

function internalError(): ErrorResponse {
  return {
    status: 500,
    code: 'INTERNAL_ERROR',
    message: 'internal error; the server log has the details under this request id',
    details: {},
  };
}

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  response: ErrorResponse,
): FastifyReply {
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    void reply.header(name, value);
  }
  return reply.code(response.status).send({
    error: {
      code: response.code,
      message: response.message,
      details: response.details,
      requestId: request.id,
    },
  });
}
