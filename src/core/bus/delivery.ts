import type { Logger } from '../logger.js';
import { deadLetterSubject } from './subject.js';
import type { BusMessage, MessageHandler } from './types.js';

export type DeliveryOutcome =
  | { readonly kind: 'acked' }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'timed-out'; readonly ackWaitMs: number };

export interface HandlerRun {
  /** Settles with the outcome when the handler settles or the ack wait ends, whichever is first. */
  readonly outcome: Promise<DeliveryOutcome>;
  /** Settles when the handler itself settles, which may be after a timed-out outcome. */
  readonly settled: Promise<void>;
}

/** Runs `handler` for one delivery, racing it against the ack wait. Never rejects. */
export function runHandler(
  handler: MessageHandler,
  message: BusMessage,
  ackWaitMs: number,
): HandlerRun {
  const handled = (async (): Promise<DeliveryOutcome> => {
    try {
      await handler(message);
      return { kind: 'acked' };
    } catch (error) {
      return { kind: 'failed', error };
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<DeliveryOutcome>((resolve) => {
    timer = setTimeout(() => {
      resolve({ kind: 'timed-out', ackWaitMs });
    }, ackWaitMs);
  });
  const outcome = Promise.race([handled, timedOut]).finally(() => {
    clearTimeout(timer);
  });
  return { outcome, settled: handled.then(() => undefined) };
}

/** Headers the bus adds to a dead letter; the original headers are kept as well. */
export const deadLetterHeaderNames = {
  reason: 'Medward-Dead-Letter-Reason',
  originalSubject: 'Medward-Original-Subject',
  originalId: 'Medward-Original-Id',
  group: 'Medward-Group',
  deliveryCount: 'Medward-Delivery-Count',
} as const;

const maxReasonLength = 200;

/** Returns a one-line description of a failed delivery for the dead-letter reason header. */
export function describeFailure(outcome: DeliveryOutcome): string {
  switch (outcome.kind) {
    case 'acked':
      return 'acknowledged';
    case 'timed-out':
      return `ack wait of ${outcome.ackWaitMs} ms exceeded`;
    case 'failed': {
      const detail = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      // eslint-disable-next-line no-control-regex
      const oneLine = `handler failed: ${detail}`.replace(/[\u0000-\u001f\u007f]+/gu, ' ');
      return oneLine.length > maxReasonLength
        ? `${oneLine.slice(0, maxReasonLength - 3)}...`
        : oneLine;
    }
  }
}

export interface DeadLetter {
  readonly subject: string;
  /** De-duplication key, unique per original message and group, so a retried dead-letter publish is stored once. */
  readonly msgId: string;
  readonly headers: Record<string, string>;
}

/** Builds the dead letter for `message`, which failed in `group` for `reason`. */
export function buildDeadLetter(
  message: Pick<BusMessage, 'id' | 'subject' | 'headers'>,
  group: string,
  deliveryCount: number,
  reason: string,
): DeadLetter {
  return {
    subject: deadLetterSubject(message.subject),
    msgId: `deadletter:${group}:${message.id}`,
    headers: {
      ...message.headers,
      [deadLetterHeaderNames.reason]: reason,
      [deadLetterHeaderNames.originalSubject]: message.subject,
      [deadLetterHeaderNames.originalId]: message.id,
      [deadLetterHeaderNames.group]: group,
      [deadLetterHeaderNames.deliveryCount]: String(deliveryCount),
    },
  };
}

export function logDeadLetter(
  logger: Logger,
  message: Pick<BusMessage, 'id' | 'subject'>,
  group: string,
  deliveryCount: number,
  reason: string,
): void {
  logger.warn(
    {
      subject: message.subject,
      group,
      messageId: message.id,
      deliveryCount,
      deadLetterSubject: deadLetterSubject(message.subject),
      reason,
    },
    'message dead-lettered',
  );
}
