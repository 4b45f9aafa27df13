export type {
  BusMessage,
  EventBus,
  MessageHandler,
  PublishOptions,
  SubscribeOptions,
  Subscription,
} from './types.js';
export { InProcessBus, type InProcessBusOptions } from './in-process-bus.js';
export { JetStreamBus, type JetStreamBusOptions, type NatsCredentials } from './jetstream-bus.js';
export { createEventBus, type EventBusConfig } from './create-event-bus.js';
export { deadLetterHeaderNames } from './delivery.js';
export { deadLetterSubject } from './subject.js';
