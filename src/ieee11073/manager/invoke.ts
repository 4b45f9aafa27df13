/**
 * Invoke-id bookkeeping of the requests the manager sends (GET, confirmed
 * SET, confirmed ACTION): each gets an invoke id that no other open request
 * of the association uses and a response timer.
 */
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { DataMessage } from '../apdu.js';

/** The RORS kind that answers a request. */
export type ExpectedResponse = 'rors-get' | 'rors-confirmed-set' | 'rors-confirmed-action';

interface OpenRequest {
  expected: ExpectedResponse;
  resolve: (message: DataMessage) => void;
  reject: (error: MedwardError) => void;
  timer: NodeJS.Timeout;
}

/** How `settle` used a response. */
export type SettleOutcome = 'settled' | 'unknown-invoke-id' | 'unexpected-kind';

export class InvokeTracker {
  private nextId = 0;
  private readonly open = new Map<number, OpenRequest>();

  /** Open requests. */
  get size(): number {
    return this.open.size;
  }

  /**
   * Registers a request and returns its invoke id and the promise of its
   * response. The promise rejects with IEEE11073_RESPONSE_TIMEOUT after
   * `timeoutMs`, and with IEEE11073_REQUEST_FAILED when the agent answers with
   * ROER or RORJ.
   */
  start(
    expected: ExpectedResponse,
    timeoutMs: number,
  ): { invokeId: number; response: Promise<DataMessage> } {
    const invokeId = this.allocate();
    const response = new Promise<DataMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.open.delete(invokeId);
        reject(
          new MedwardError(
            ErrorKind.Timeout,
            'IEEE11073_RESPONSE_TIMEOUT',
            `agent sent no ${expected} for invoke id ${invokeId} within ${timeoutMs} ms`,
            { details: { invokeId, expected, timeoutMs } },
          ),
        );
      }, timeoutMs);
      this.open.set(invokeId, { expected, resolve, reject, timer });
    });
    return { invokeId, response };
  }

  private allocate(): number {
    // At most a handful of requests are open at once, so a free id is found
    // within a few steps.
    for (;;) {
      const id = this.nextId;
      this.nextId = (this.nextId + 1) & 0xffff;
      if (!this.open.has(id)) {
        return id;
      }
    }
  }

  /** Hands a response (RORS, ROER or RORJ) to the request with its invoke id. */
  settle(invokeId: number, message: DataMessage): SettleOutcome {
    const request = this.open.get(invokeId);
    if (request === undefined) {
      return 'unknown-invoke-id';
    }
    if (message.kind === 'roer' || message.kind === 'rorj') {
      this.finish(invokeId, request);
      const value = message.kind === 'roer' ? message.errorValue : message.problem;
      request.reject(
        new MedwardError(
          ErrorKind.Unavailable,
          'IEEE11073_REQUEST_FAILED',
          `agent answered invoke id ${invokeId} with ${message.kind.toUpperCase()} ${value}`,
          { details: { invokeId, response: message.kind, value } },
        ),
      );
      return 'settled';
    }
    if (message.kind !== request.expected) {
      return 'unexpected-kind';
    }
    this.finish(invokeId, request);
    request.resolve(message);
    return 'settled';
  }

  private finish(invokeId: number, request: OpenRequest): void {
    clearTimeout(request.timer);
    this.open.delete(invokeId);
  }

  /** Rejects every open request, for an association that ended. */
  cancelAll(reason: string): void {
    for (const [invokeId, request] of this.open) {
      this.finish(invokeId, request);
      request.reject(
        new MedwardError(
          ErrorKind.Unavailable,
          'IEEE11073_ASSOCIATION_ENDED',
          `request ${invokeId} ended without a response: ${reason}`,
          { details: { invokeId } },
        ),
      );
    }
  }
}
