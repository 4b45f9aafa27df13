/**
 * Lets timers and socket events run. On SQLite every query completes
 * synchronously, so without a yield a transaction runs as one unbroken chain
 * of microtasks and stalls every agent connection until it commits.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
