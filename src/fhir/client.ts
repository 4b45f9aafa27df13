/**
 * HTTP transport of transaction Bundles to a FHIR server, with each outcome
 * sorted into what the exporter does next: accept, retry later, or reject.
 */

/** Result of one POST of a Bundle. */
export type SendOutcome =
  | { kind: 'accepted'; status: number; body: unknown }
  | { kind: 'retry'; status?: number; error: string; retryAfterMs?: number }
  | { kind: 'rejected'; status: number; error: string; outcome?: string };

export interface SendRequest {
  url: string;
  body: string;
  bearerToken?: string;
  timeoutMs: number;
  /** Aborts the request when medward stops. */
  signal: AbortSignal;
}

/** Largest response body read; a transaction-response of 1000 entries is far smaller. */
const maxResponseBytes = 32 * 1024 * 1024;

/** Parses Retry-After as seconds or an HTTP date; returns milliseconds from now. */
export function parseRetryAfter(header: string | null, nowMs: number): number | undefined {
  if (header === null) {
    return undefined;
  }
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) {
    return Number(trimmed) * 1000;
  }
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Returns whether a status means the request may succeed later unchanged. */
export function isRetryableStatus(status: number): boolean {
  // 401 and 403 mean the credentials are wrong, not the data, so the rows
  // wait for a fixed token instead of being parked.
  return status === 408 || status === 429 || status >= 500 || status === 401 || status === 403;
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}

async function readBody(response: Response): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > maxResponseBytes) {
    await response.body?.cancel();
    throw new RangeError(`response of ${length} bytes exceeds ${maxResponseBytes}`);
  }
  const text = await response.text();
  if (text.length > maxResponseBytes) {
    throw new RangeError(`response of ${text.length} characters exceeds ${maxResponseBytes}`);
  }
  return text;
}

function operationOutcome(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && 'resourceType' in parsed) {
      return parsed.resourceType === 'OperationOutcome' ? text : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** POSTs a Bundle to the server's base URL and classifies the response. */
export async function postBundle(request: SendRequest): Promise<SendOutcome> {
  const headers: Record<string, string> = {
    'content-type': 'application/fhir+json',
    accept: 'application/fhir+json',
    prefer: 'return=minimal',
  };
  if (request.bearerToken !== undefined) {
    headers.authorization = `Bearer ${request.bearerToken}`;
  }
  let response: Response;
  let text: string;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers,
      body: request.body,
      redirect: 'error',
      signal: AbortSignal.any([request.signal, AbortSignal.timeout(request.timeoutMs)]),
    });
    text = await readBody(response);
  } catch (error) {
    return { kind: 'retry', error: `request to the FHIR server failed: ${errorText(error)}` };
  }
  const status = response.status;
  if (status >= 200 && status < 300) {
    try {
      return { kind: 'accepted', status, body: JSON.parse(text) as unknown };
    } catch {
      return { kind: 'retry', status, error: `status ${status} came with a body that is not JSON` };
    }
  }
  const outcome = operationOutcome(text);
  const summary = `FHIR server answered ${status}${outcome === undefined ? '' : ' with an OperationOutcome'}`;
  if (isRetryableStatus(status)) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
    return retryAfterMs === undefined
      ? { kind: 'retry', status, error: summary }
      : { kind: 'retry', status, error: summary, retryAfterMs };
  }
  return outcome === undefined
    ? { kind: 'rejected', status, error: `${summary}: ${text.slice(0, 500)}` }
    : { kind: 'rejected', status, error: summary, outcome };
}
