import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../core/logger.js';
import { httpPathToTarget } from './address.js';
import type { CseCore } from './cse.js';
import { parseJsonBody } from './primitive.js';
import { httpStatusOfRsc, onem2mError, rscOf, ResponseStatusCode } from './status.js';
import { Operation, type ResponsePrimitive } from './types.js';

/**
 * The HTTP binding (TS-0009): translates HTTP requests to request primitives
 * and response primitives back to HTTP. Method and Content-Type select the
 * operation (POST with `ty` is CREATE, POST without is NOTIFY, GET is
 * RETRIEVE, PUT is UPDATE, DELETE is DELETE); X-M2M-* headers and query
 * parameters carry the other primitive parameters. Every response carries
 * X-M2M-RSC and the HTTP status that TS-0009 maps it to.
 */

export interface HttpBindingOptions {
  host: string;
  port: number;
  maxContentBytes: number;
  logger: Logger;
}

/** Query parameters with integer values (TS-0009). */
const integerParameters = new Set([
  'rcn',
  'rt',
  'drt',
  'fu',
  'lim',
  'lvl',
  'ofst',
  'fo',
  'sts',
  'stb',
  'sza',
  'szb',
]);
const listParameters = new Set(['ty', 'lbl']);
const filterParameters = new Set([
  'fu',
  'lim',
  'lvl',
  'ofst',
  'fo',
  'sts',
  'stb',
  'sza',
  'szb',
  'ty',
  'lbl',
  'cra',
  'crb',
  'ms',
  'us',
  'exa',
  'exb',
]);

const JSON_MEDIA_TYPES = new Set(['application/json', 'application/vnd.onem2m-res+json']);

type Json = Record<string, unknown>;

function single(value: unknown, name: string): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  const item: unknown = Array.isArray(value) && value.length === 1 ? value[0] : value;
  if (typeof item !== 'string') {
    throw onem2mError('BAD_REQUEST', `query parameter ${name} is given more than once`);
  }
  return item;
}

function integerOf(text: string, name: string): number {
  if (!/^\d{1,15}$/.test(text)) {
    throw onem2mError(
      'BAD_REQUEST',
      `query parameter ${name} must be a non-negative integer, got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/** Splits a list parameter: repeated parameters and `+`-separated values (TS-0009). */
function listOf(value: unknown): string[] {
  const raw = Array.isArray(value) ? value.map(String) : [String(value)];
  return raw.flatMap((item) => item.split(/[+ ]/)).filter((item) => item.length > 0);
}

/** Parsed Content-Type values: the `ty` parameter, or null for none. */
const contentTypes = new Map<string, number | null>();
const MAX_CACHED_CONTENT_TYPES = 100;

/**
 * Checks a Content-Type and returns its `ty` parameter, the resource type
 * of a CREATE. Clients send the same few values, so results are cached.
 */
function resourceTypeOf(contentType: string): number | undefined {
  let ty = contentTypes.get(contentType);
  if (ty === undefined) {
    ty = parseContentType(contentType) ?? null;
    if (contentTypes.size >= MAX_CACHED_CONTENT_TYPES) {
      contentTypes.clear();
    }
    contentTypes.set(contentType, ty);
  }
  return ty ?? undefined;
}

function parseContentType(contentType: string): number | undefined {
  const [mediaType = '', ...parameters] = contentType.split(';').map((part) => part.trim());
  if (!JSON_MEDIA_TYPES.has(mediaType.toLowerCase())) {
    throw onem2mError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type ${mediaType} is not supported; use application/json or application/vnd.onem2m-res+json`,
    );
  }
  let ty: number | undefined;
  for (const parameter of parameters) {
    const [key, value = ''] = parameter.split('=').map((part) => part.trim());
    if (key?.toLowerCase() === 'ty') {
      ty = integerOf(value, 'ty (Content-Type parameter)');
    }
  }
  return ty;
}

/** Returns the first value of a request header. */
function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Builds the raw request primitive of an HTTP request; the core validates it. */
function toPrimitive(
  request: FastifyRequest,
  raw: Buffer | undefined,
  maxContentBytes: number,
): Json {
  const headers = request.headers;
  const rqi = headerValue(headers, 'x-m2m-ri');
  if (rqi === undefined || rqi === '') {
    throw onem2mError('BAD_REQUEST', 'the X-M2M-RI header (request identifier) is missing');
  }
  const url = request.raw.url ?? '/';
  const queryStart = url.indexOf('?');
  const path = queryStart < 0 ? url : url.slice(0, queryStart);
  const primitive: Json = { rqi, to: httpPathToTarget(path) };
  const origin = headerValue(headers, 'x-m2m-origin');
  if (origin !== undefined) {
    primitive.fr = origin;
  }
  const rvi = headerValue(headers, 'x-m2m-rvi');
  if (rvi !== undefined) {
    primitive.rvi = rvi;
  }
  const ot = headerValue(headers, 'x-m2m-ot');
  if (ot !== undefined) {
    primitive.ot = ot;
  }
  const rqet = headerValue(headers, 'x-m2m-ret');
  if (rqet !== undefined) {
    primitive.rqet = rqet;
  }
  const rset = headerValue(headers, 'x-m2m-rst');
  if (rset !== undefined) {
    primitive.rset = rset;
  }

  const contentType = headerValue(headers, 'content-type');
  const ty = contentType === undefined ? undefined : resourceTypeOf(contentType);
  const accept = headerValue(headers, 'accept');
  if (
    accept !== undefined &&
    !accept
      .split(',')
      .map((part) => (part.split(';')[0] ?? '').trim().toLowerCase())
      .some((type) => type === '*/*' || type === 'application/*' || JSON_MEDIA_TYPES.has(type))
  ) {
    throw onem2mError(
      'NOT_ACCEPTABLE',
      `Accept ${accept} excludes JSON, the only serialization this CSE sends`,
    );
  }

  switch (request.method) {
    case 'POST':
      primitive.op = ty === undefined ? Operation.Notify : Operation.Create;
      break;
    case 'GET':
      primitive.op = Operation.Retrieve;
      break;
    case 'PUT':
      primitive.op = Operation.Update;
      break;
    case 'DELETE':
      primitive.op = Operation.Delete;
      break;
    default:
      throw onem2mError(
        'OPERATION_NOT_ALLOWED',
        `HTTP method ${request.method} is not part of the oneM2M HTTP binding`,
      );
  }
  if (ty !== undefined) {
    primitive.ty = ty;
  }
  if (raw !== undefined && raw.length > 0) {
    primitive.pc = parseJsonBody(raw, maxContentBytes);
  }

  if (queryStart >= 0) {
    addQueryParameters(primitive, request.query as Record<string, unknown>);
  }
  return primitive;
}

/** Adds the query parameters of a request (TS-0009) to its primitive. */
function addQueryParameters(primitive: Json, query: Record<string, unknown>): void {
  const fc: Json = {};
  for (const [name, value] of Object.entries(query)) {
    if (listParameters.has(name)) {
      const items = listOf(value);
      fc[name] = name === 'ty' ? items.map((item) => integerOf(item, 'ty')) : items;
      continue;
    }
    const text = single(value, name);
    if (text === undefined) {
      continue;
    }
    const parsed = integerParameters.has(name) ? integerOf(text, name) : text;
    if (filterParameters.has(name)) {
      fc[name] = parsed;
    } else if (name === 'rcn' || name === 'drt') {
      primitive[name] = parsed;
    } else if (name === 'rt') {
      primitive.rt = { rtv: parsed };
    } else if (name === 'rp' || name === 'rqet' || name === 'oet') {
      // Accepted without effect, as in the request primitive.
    } else {
      throw onem2mError('BAD_REQUEST', `query parameter ${name} is unknown`);
    }
  }
  if (Object.keys(fc).length > 0) {
    primitive.fc = fc;
  }
}

/** Serves the CSE over HTTP on its own listener. */
export class HttpBinding {
  readonly app: FastifyInstance;
  private readonly logger: Logger;

  constructor(
    private readonly core: CseCore,
    private readonly options: HttpBindingOptions,
  ) {
    this.logger = options.logger;
    this.app = Fastify({
      logger: false,
      bodyLimit: options.maxContentBytes,
      // oneM2M resource names may contain characters Fastify would otherwise reject.
      routerOptions: { ignoreTrailingSlash: false, maxParamLength: 4096 },
      keepAliveTimeout: 65000,
    });
    // Bodies arrive as raw text and are parsed by the binding, so a malformed
    // body becomes a oneM2M 4000 response that echoes X-M2M-RI.
    this.app.removeAllContentTypeParsers();
    this.app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
      done(null, body);
    });
    this.app.setErrorHandler((error: unknown, request, reply) => {
      const code = (error as { code?: string }).code;
      const message = error instanceof Error ? error.message : String(error);
      const tooLarge = code === 'FST_ERR_CTP_BODY_TOO_LARGE';
      const failure = tooLarge
        ? onem2mError(
            'BAD_REQUEST',
            `content exceeds the limit of ${options.maxContentBytes} bytes`,
          )
        : onem2mError('BAD_REQUEST', `the HTTP request could not be read: ${message}`);
      void this.send(reply, this.errorPrimitive(request, failure), undefined);
    });
    this.app.all('/*', (request, reply) => this.route(request, reply));
    this.app.all('/', (request, reply) => this.route(request, reply));
  }

  private errorPrimitive(request: FastifyRequest, error: unknown): ResponsePrimitive {
    const rqi = request.headers['x-m2m-ri'];
    const rvi = request.headers['x-m2m-rvi'];
    return {
      rsc: rscOf(error),
      rqi: typeof rqi === 'string' ? rqi : '',
      pc: { 'm2m:dbg': error instanceof Error ? error.message : String(error) },
      ...(typeof rvi === 'string' ? { rvi } : {}),
    };
  }

  private async route(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    let primitive: Json;
    try {
      const raw = request.body as Buffer | undefined;
      primitive = toPrimitive(request, raw, this.options.maxContentBytes);
    } catch (error) {
      await this.send(reply, this.errorPrimitive(request, error), undefined);
      return;
    }
    const { response, location } = await this.core.handleWithLocation(primitive, false, {
      correlationId: randomUUID(),
      sourceAddress: request.ip,
    });
    await this.send(reply, response, location);
  }

  private async send(
    reply: FastifyReply,
    response: ResponsePrimitive,
    location: string | undefined,
  ): Promise<void> {
    reply.status(httpStatusOfRsc(response.rsc));
    reply.header('X-M2M-RSC', String(response.rsc));
    if (response.rqi !== '') {
      reply.header('X-M2M-RI', response.rqi);
    }
    if (response.rvi !== undefined) {
      reply.header('X-M2M-RVI', response.rvi);
    }
    if (response.ot !== undefined) {
      reply.header('X-M2M-OT', response.ot);
    }
    if (location !== undefined && response.rsc === ResponseStatusCode.CREATED) {
      reply.header('Content-Location', location);
    }
    if (response.cnst !== undefined) {
      reply.header('X-M2M-CTS', String(response.cnst));
    }
    if (response.cnot !== undefined) {
      reply.header('X-M2M-CTO', String(response.cnot));
    }
    if (response.pc === undefined) {
      await reply.send();
      return;
    }
    reply.header('Content-Type', 'application/json');
    await reply.send(JSON.stringify(response.pc));
  }

  async start(): Promise<void> {
    await this.app.listen({ host: this.options.host, port: this.options.port });
    this.logger.info({ address: this.address() }, 'oneM2M HTTP binding listening');
  }

  /** Returns the bound address, with the real port when configured with port 0. */
  address(): { host: string; port: number } | undefined {
    const address = this.app.server.address();
    if (address === null || typeof address === 'string') {
      return undefined;
    }
    return { host: address.address, port: address.port };
  }

  async stop(): Promise<void> {
    await this.app.close();
  }
}
