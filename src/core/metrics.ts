import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Creates the Prometheus registry of one medward instance. It is passed to
 * every context that exports metrics, so tests can build isolated instances
 * side by side.
 * Metric names start with `medward_` and carry their unit as a suffix
 * (`_seconds`, `_bytes`, `_total`).
 */
export function createMetricsRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: 'medward_process_' });
  }
  return registry;
}

export type { Registry } from 'prom-client';
