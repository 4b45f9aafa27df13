import type { RequestPrimitive } from './types.js';
import type { ResourceRecord } from './store.js';

/** The source of a request, as recorded in the audit records it causes. */
export interface RequestOrigin {
  correlationId: string;
  sourceAddress?: string;
}

/** A request on its way through the CSE, with the values every step needs. */
export interface RequestContext {
  request: RequestPrimitive;
  /** Originator as sent, or the AE-ID the CSE assigned during registration. */
  originator: string;
  isAdmin: boolean;
  /** Time the CSE received the request, in epoch milliseconds and as a oneM2M timestamp. */
  nowMs: number;
  now: string;
  /** Whether this request came from a group fan-out, which must not fan out again. */
  fannedOut: boolean;
  /** Undefined for an in-process request made outside any operation context. */
  origin: RequestOrigin | undefined;
}

/** A resolved target: the resource, its ancestors and any virtual resource after it. */
export interface ResolvedTarget {
  target: ResourceRecord;
  /** Ancestors from the CSEBase down to the target's parent. */
  chain: ResourceRecord[];
  /** `la` or `ol` after a container. */
  virtual?: 'la' | 'ol';
  /** Path after `fopt` when the address goes through a group's fanOutPoint. */
  fanOutPath?: string[];
}
