import { invalid } from '../errors.js';
import { validateSubject } from './subject.js';
import type { MessageHandler, SubscribeOptions } from './types.js';

export const defaultAckWaitMs = 30_000;
export const defaultMaxDeliver = 5;
export const defaultBackoffMs: readonly number[] = [1_000, 5_000, 30_000];
/** JetStream's default duplicate window (2 minutes); the in-process bus uses the same. */
export const defaultDuplicateWindowMs = 120_000;

const groupNamePattern = /^[A-Za-z0-9_-]{1,64}$/u;

/** Subscription options after validation, with defaults applied. */
export interface GroupSettings {
  readonly subject: string;
  readonly group: string;
  readonly handler: MessageHandler;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly backoffMs: readonly number[];
}

function requireInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(
      'BUS_INVALID_SUBSCRIPTION',
      `invalid ${name} ${String(value)}: it must be an integer from ${min} to ${max}`,
      { [name]: value },
    );
  }
  return value;
}

/**
 * Validates subscribe options and applies defaults. Throws `BUS_INVALID_SUBJECT`
 * for the subject filter and `BUS_INVALID_SUBSCRIPTION` for the other fields.
 */
export function resolveSubscribeOptions(options: SubscribeOptions): GroupSettings {
  validateSubject(options.subject, true);
  if (typeof options.group !== 'string' || !groupNamePattern.test(options.group)) {
    throw invalid(
      'BUS_INVALID_SUBSCRIPTION',
      `invalid group ${JSON.stringify(options.group)}: use 1 to 64 letters, digits, '-' or '_'`,
      { group: options.group },
    );
  }
  if (typeof options.handler !== 'function') {
    throw invalid('BUS_INVALID_SUBSCRIPTION', 'invalid handler: it must be a function', {
      group: options.group,
    });
  }
  const ackWaitMs = requireInteger(
    'ackWaitMs',
    options.ackWaitMs ?? defaultAckWaitMs,
    1,
    86_400_000,
  );
  const maxDeliver = requireInteger(
    'maxDeliver',
    options.maxDeliver ?? defaultMaxDeliver,
    1,
    1_000,
  );
  const backoffInput: unknown = options.backoffMs ?? defaultBackoffMs;
  if (!Array.isArray(backoffInput) || backoffInput.length === 0) {
    throw invalid('BUS_INVALID_SUBSCRIPTION', 'invalid backoffMs: it must be a non-empty array', {
      group: options.group,
    });
  }
  const backoffMs = (backoffInput as unknown[]).map((delayMs) =>
    requireInteger('backoffMs entry', delayMs, 0, 86_400_000),
  );
  return {
    subject: options.subject,
    group: options.group,
    handler: options.handler,
    ackWaitMs,
    maxDeliver,
    backoffMs,
  };
}

/** Returns the delay before redelivering a message whose delivery number `deliveryCount` failed. */
export function backoffDelayMs(backoffMs: readonly number[], deliveryCount: number): number {
  const index = Math.min(Math.max(deliveryCount - 1, 0), backoffMs.length - 1);
  return backoffMs[index] ?? 0;
}
