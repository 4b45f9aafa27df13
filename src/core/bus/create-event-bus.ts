import type { Logger } from '../logger.js';
import { InProcessBus, type InProcessBusOptions } from './in-process-bus.js';
import { JetStreamBus, type JetStreamBusOptions } from './jetstream-bus.js';
import type { EventBus } from './types.js';

/** Event bus configuration: the in-process bus, or NATS JetStream at `url`. */
export type EventBusConfig =
  | ({ kind: 'in-process' } & InProcessBusOptions)
  | ({ kind: 'nats'; url: string } & Omit<JetStreamBusOptions, 'servers'>);

/** Creates the event bus that `config.kind` selects; the caller starts and stops it. */
export function createEventBus(config: EventBusConfig, logger: Logger): EventBus {
  const busLogger = logger.child({ component: 'event-bus' });
  switch (config.kind) {
    case 'in-process':
      return new InProcessBus(busLogger, config);
    case 'nats':
      return new JetStreamBus({ ...config, servers: config.url }, busLogger);
  }
}
