import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** Who is acting: a person, an API token, a device, an automation rule, or medward itself. */
export const ActorKind = {
  User: 'user',
  ApiToken: 'api-token',
  Device: 'device',
  Automation: 'automation',
  System: 'system',
} as const;
export type ActorKind = (typeof ActorKind)[keyof typeof ActorKind];

export interface Actor {
  kind: ActorKind;
  id: string;
  /** Human-readable name, for example the token's label; never a secret. */
  display?: string;
}

export const systemActor: Actor = { kind: ActorKind.System, id: 'medward' };

/**
 * What a unit of work carries across async calls: the request id for logs,
 * the correlation id that ties audit records of one operation together, the
 * acting identity and the network address it came from.
 */
export interface OperationContext {
  requestId: string;
  correlationId: string;
  actor: Actor;
  sourceAddress?: string;
}

const storage = new AsyncLocalStorage<OperationContext>();

export function runWithContext<T>(context: OperationContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentContext(): OperationContext | undefined {
  return storage.getStore();
}

/** Builds a context for work medward starts on its own (timers, startup, automation). */
export function systemContext(actor: Actor = systemActor): OperationContext {
  const id = randomUUID();
  return { requestId: id, correlationId: id, actor };
}
