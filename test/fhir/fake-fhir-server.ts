/**
 * A FHIR server double on 127.0.0.1 for exporter tests: a real node:http
 * server that records every Bundle POSTed to it. It processes the
 * conditional requests medward sends as a FHIR server does. A conditional
 * create (ifNoneExist) or conditional update (PUT Resource?search) creates
 * the resource once and returns status 200 for every later match.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  atMs: number;
  headers: IncomingMessage['headers'];
  body: string;
  bundle: TransactionBundle;
}

export interface TransactionBundle {
  resourceType: string;
  type: string;
  entry: {
    fullUrl: string;
    resource: { resourceType: string; identifier?: { system?: string; value: string }[] };
    request: { method: string; url: string; ifNoneExist?: string };
  }[];
}

/** Server behaviour for one request; `process` responds as a FHIR server would. */
export type Reply =
  | {
      kind: 'process';
      entryStatus?: (
        index: number,
        entry: TransactionBundle['entry'][number],
      ) => string | undefined;
    }
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'process-then-fail'; status: number }
  | { kind: 'hang' };

export class FakeFhirServer {
  readonly requests: RecordedRequest[] = [];
  /** Resources created, by the conditional key that created them. */
  readonly resources = new Map<string, unknown>();
  /** Chooses the reply to each request; request numbers start at 0. */
  reply: (requestNumber: number, bundle: TransactionBundle) => Reply = () => ({ kind: 'process' });
  private server: Server | undefined;
  private nextId = 1;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      this.handle(request, response);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/fhir`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => {
      if (this.server === undefined) {
        resolve();
        return;
      }
      this.server.close(() => {
        resolve();
      });
    });
  }

  /** Conditional keys of the Observations created so far. */
  observationKeys(): string[] {
    return [...this.resources.keys()].filter((key) => key.startsWith('Observation '));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const bundle = JSON.parse(body) as TransactionBundle;
      const number = this.requests.length;
      this.requests.push({ atMs: performance.now(), headers: request.headers, body, bundle });
      const reply = this.reply(number, bundle);
      switch (reply.kind) {
        case 'hang':
          return;
        case 'status':
          response.writeHead(reply.status, {
            'content-type': 'application/fhir+json',
            ...(reply.headers ?? {}),
          });
          response.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
          return;
        case 'process-then-fail':
          this.process(bundle);
          response.writeHead(reply.status, { 'content-type': 'application/fhir+json' });
          response.end(JSON.stringify(outcome('processing', 'gateway lost the answer')));
          return;
        case 'process':
          response.writeHead(200, { 'content-type': 'application/fhir+json' });
          response.end(JSON.stringify(this.process(bundle, reply.entryStatus)));
          return;
      }
    });
  }

  private process(
    bundle: TransactionBundle,
    entryStatus?: (index: number, entry: TransactionBundle['entry'][number]) => string | undefined,
  ): unknown {
    const entries = bundle.entry.map((entry, index) => {
      const forced = entryStatus?.(index, entry);
      if (forced !== undefined) {
        return { response: { status: forced, outcome: outcome('exception', 'entry failed') } };
      }
      const key =
        entry.request.method === 'PUT'
          ? `${entry.resource.resourceType} ${entry.request.url}`
          : `${entry.resource.resourceType} ${entry.request.ifNoneExist ?? `new-${this.nextId}`}`;
      if (this.resources.has(key)) {
        return { response: { status: '200 OK' } };
      }
      this.resources.set(key, entry.resource);
      const id = this.nextId++;
      return {
        response: {
          status: '201 Created',
          location: `${entry.resource.resourceType}/${id}/_history/1`,
        },
      };
    });
    return { resourceType: 'Bundle', type: 'transaction-response', entry: entries };
  }
}

export function outcome(code: string, text: string): unknown {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, diagnostics: text }],
  };
}
