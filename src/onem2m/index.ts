/**
 * medward's oneM2M IN-CSE (TS-0001, TS-0004, TS-0009 HTTP and TS-0010 MQTT
 * bindings, release 3/4 JSON).
 *
 * - `Onem2mCse`: the lifecycle component; `handle(request)` is the in-process
 *   API for interworking code.
 * - `Onem2mSection`: the `onem2m` configuration section.
 * - `onem2mMigrations`: the storage migrations (already in `allMigrations`).
 */
export { Onem2mCse, type Onem2mCseOptions } from './component.js';
export { Onem2mSection, type Onem2mConfig } from './config.js';
export { onem2mMigrations } from './migrations.js';
export { ResponseStatusCode, httpStatusOfRsc } from './status.js';
export {
  AccessControlOperation,
  NotificationEventType,
  Operation,
  ResourceType,
  ResultContent,
  type FilterCriteria,
  type RequestPrimitive,
  type ResponsePrimitive,
} from './types.js';
