import { isIP } from 'node:net';
import type { MedwardConfig } from '../core/config/index.js';
import { ErrorKind, MedwardError } from '../core/errors.js';

/** Environment variable that carries the API token of CLI commands that call a running medward. */
export const TOKEN_ENV = 'MEDWARD_TOKEN';

/** Error kinds by the HTTP status of medward's API responses, the reverse of httpStatusOf. */
const kindByStatus: Readonly<Record<number, ErrorKind>> = {
  400: ErrorKind.Invalid,
  401: ErrorKind.Unauthenticated,
  403: ErrorKind.Forbidden,
  404: ErrorKind.NotFound,
  409: ErrorKind.Conflict,
  413: ErrorKind.TooLarge,
  429: ErrorKind.RateLimited,
  503: ErrorKind.Unavailable,
  504: ErrorKind.Timeout,
};

/**
 * Returns the URL a local client reaches a listener at: a wildcard address
 * (0.0.0.0, ::) becomes the loopback address of its family, and an IPv6
 * address is bracketed.
 */
export function localUrl(scheme: 'http' | 'https', host: string, port: number): string {
  let reachable = host;
  if (host === '0.0.0.0') {
    reachable = '127.0.0.1';
  } else if (host === '::') {
    reachable = '::1';
  }
  return `${scheme}://${isIP(reachable) === 6 ? `[${reachable}]` : reachable}:${port}`;
}

/** The admin API of a running medward, and the token to call it with. */
export class AdminApiClient {
  private constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /**
   * Builds a client for the API that `config` describes, or for `apiUrl`,
   * with the token from MEDWARD_TOKEN.
   */
  static fromConfig(config: MedwardConfig, apiUrl?: string): AdminApiClient {
    const token = process.env[TOKEN_ENV];
    if (token === undefined || token === '') {
      throw new MedwardError(
        ErrorKind.Unauthenticated,
        'CLI_TOKEN_MISSING',
        `${TOKEN_ENV} is not set: export the admin API token that medward printed at first start ` +
          `(or one from "medward token create --role admin") as ${TOKEN_ENV}`,
      );
    }
    if (apiUrl === undefined && config.api.port === 0) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'CLI_API_URL_UNKNOWN',
        'api.port is 0, so the operating system chose the port: give --api-url with the address ' +
          'in the "api listening" log line',
      );
    }
    return new AdminApiClient(
      (apiUrl ?? localUrl('http', config.api.host, config.api.port)).replace(/\/+$/, ''),
      token,
    );
  }

  /**
   * Sends a request with a JSON body and returns the parsed JSON response.
   * An error response raises a MedwardError with the API's code and message.
   */
  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = (error as Error & { cause?: Error }).cause ?? error;
      throw new MedwardError(
        ErrorKind.Unavailable,
        'CLI_API_UNREACHABLE',
        `cannot reach medward's API at ${this.baseUrl}: ${(cause as Error).message}; ` +
          'start medward with "medward start", or give --api-url',
        { cause: error },
      );
    }
    const text = await response.text();
    if (!response.ok) {
      let code = 'CLI_API_REQUEST_FAILED';
      let message = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = parsed.error?.code ?? code;
        message = parsed.error?.message ?? message;
      } catch {
        // Not medward's JSON error body: the text above is all there is.
      }
      throw new MedwardError(
        kindByStatus[response.status] ?? ErrorKind.Internal,
        code,
        `${method} ${url} answered ${response.status}: ${message}`,
        { details: { status: response.status } },
      );
    }
    return JSON.parse(text) as T;
  }
}
