import { setTimeout as sleep } from 'node:timers/promises';

export interface BackoffPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/** Delay before attempt `attempt + 1`: doubling from the initial back-off up to the maximum, with ±20 % jitter. */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number): number {
  const base = Math.min(
    policy.maxBackoffMs,
    policy.initialBackoffMs * 2 ** Math.max(0, attempt - 1),
  );
  const jitter = base * 0.2 * (Math.random() * 2 - 1);
  return Math.max(0, Math.round(base + jitter));
}

/**
 * Runs `operation` until it succeeds or `maxAttempts` attempts failed, waiting
 * with exponential back-off between attempts. Rejects with the last error.
 */
export async function retryWithBackoff<T>(
  operation: (attempt: number) => Promise<T>,
  policy: BackoffPolicy,
  onFailedAttempt: (error: unknown, attempt: number, delayMs: number | undefined) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      const last = attempt >= policy.maxAttempts;
      const delayMs = last ? undefined : backoffDelayMs(policy, attempt);
      onFailedAttempt(error, attempt, delayMs);
      if (delayMs === undefined) {
        throw error;
      }
      await sleep(delayMs);
    }
  }
}
