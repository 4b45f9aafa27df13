export { EmbeddedBroker, type EmbeddedBrokerOptions } from './embedded-broker.js';
