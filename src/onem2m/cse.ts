import { Counter, type Registry } from 'prom-client';
import type { AuditTrail, AuditAction, Executor as AuditExecutor } from '../core/audit/index.js';
import { currentContext } from '../core/context.js';
import { isMedwardError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Storage } from '../core/storage/index.js';
import {
  governingPolicyIds,
  isCreatorOnPath,
  normalizeOriginator,
  operationBit,
  privilegesGrant,
} from './access.js';
import { cseIdentity, parseTargetAddress, type CseIdentity } from './address.js';
import type { Onem2mConfig } from './config.js';
import type { RequestContext, RequestOrigin, ResolvedTarget } from './context.js';
import { createResource } from './create.js';
import { fanOut } from './group.js';
import { deleteResource, updateResource, type DeleteOutcome } from './modify.js';
import { Notifier, type ResourceEvent } from './notifications.js';
import { parseRequestPrimitive, recoverRequestId } from './primitive.js';
import { retrieveResource } from './retrieve.js';
import { onem2mError, rscOf, ResponseStatusCode } from './status.js';
import { ResourceStore, type Executor, type ResourceRecord } from './store.js';
import { TargetCache } from './target-cache.js';
import { formatTimestamp, parseTimestamp } from './time.js';
import {
  AccessControlOperation,
  Operation,
  ResourceType,
  ResponseType,
  type RequestPrimitive,
  type ResponsePrimitive,
} from './types.js';

export interface CseCoreOptions {
  config: Onem2mConfig;
  storage: Storage;
  audit: AuditTrail;
  logger: Logger;
  registry: Registry;
}

/** The outcome of an operation: its status code, content and response metadata. */
export interface OperationResult {
  rsc: number;
  pc?: unknown;
  /** Address of a created resource, for the HTTP Content-Location header. */
  location?: string;
  cnst?: number;
  cnot?: number;
}

type RejectionEvent = 'onem2m.access-denied' | 'onem2m.originator-rejected';

/**
 * Builds an error for a security-relevant rejection. The request handler
 * records it in the audit trail after any transaction of the request ended,
 * so a rejection inside a write never waits for a second transaction.
 */
export function rejection(
  name: Parameters<typeof onem2mError>[0],
  reason: string,
  event: RejectionEvent,
  targetRi?: string,
): Error {
  return onem2mError(name, reason, {
    auditEvent: event,
    ...(targetRi === undefined ? {} : { targetRi }),
  });
}

function rejectionOf(
  error: unknown,
): { reason: string; event: RejectionEvent; targetRi: string | undefined } | undefined {
  if (!isMedwardError(error)) {
    return undefined;
  }
  const event = error.details.auditEvent;
  if (event !== 'onem2m.access-denied' && event !== 'onem2m.originator-rejected') {
    return undefined;
  }
  const targetRi = error.details.targetRi;
  return {
    reason: error.message,
    event,
    targetRi: typeof targetRi === 'string' ? targetRi : undefined,
  };
}

/** Denials recorded in the audit trail per originator and minute; further ones are counted only. */
const AUDITED_DENIALS_PER_MINUTE = 20;
const SUBSCRIPTION_CACHE_LIMIT = 10000;
const AE_CACHE_LIMIT = 10000;
const SWEEP_BATCH = 200;

/**
 * Returns whether a response reports nothing but the request's own committed write:
 * a created contentInstance, whose batch (and every commit before it) is on
 * disk when the create returns. Every other response may report rows of
 * contentInstance commits whose sync is still running.
 */
function reportsOnlyOwnWrite(request: RequestPrimitive, result: OperationResult): boolean {
  return (
    request.op === Operation.Create &&
    request.ty === ResourceType.ContentInstance &&
    result.rsc === ResponseStatusCode.CREATED
  );
}

/** Returns the origin of an in-process request from the caller's operation context, if any. */
function currentOrigin(): RequestOrigin | undefined {
  const operation = currentContext();
  if (operation === undefined) {
    return undefined;
  }
  return operation.sourceAddress === undefined
    ? { correlationId: operation.correlationId }
    : { correlationId: operation.correlationId, sourceAddress: operation.sourceAddress };
}

const auditActionOf = (op: Operation): AuditAction =>
  (({ 1: 'C', 2: 'R', 3: 'U', 4: 'D', 5: 'E' }) as const)[op];

/**
 * The protocol core of the CSE: takes a request primitive, returns a
 * response primitive, independent of any binding. Bindings only translate
 * their messages to and from primitives.
 */
export class CseCore {
  readonly identity: CseIdentity;
  readonly config: Onem2mConfig;
  readonly store: ResourceStore;
  readonly notifier: Notifier;
  readonly logger: Logger;
  private readonly audit: AuditTrail;
  private readonly acpCache = new Map<string, ResourceRecord | null>();
  private readonly createTargets = new TargetCache();
  private readonly subscriptionCache = new Map<string, ResourceRecord[]>();
  private readonly registeredAes = new Set<string>();
  /**
   * AEs found by `findAe`, keyed by the requested ID or address. Every change
   * of a resource other than a contentInstance clears it, as for `createTargets`.
   */
  private readonly aesById = new Map<string, ResourceRecord>();
  private aeGeneration = 0;
  private readonly denials = new Map<
    string,
    { windowStart: number; count: number; suppressed: number }
  >();
  private readonly requests: Counter<'op' | 'rsc'>;
  private readonly accessDenied: Counter;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(options: CseCoreOptions) {
    this.config = options.config;
    this.identity = cseIdentity(options.config.cseId, options.config.cseName, options.config.spId);
    this.store = new ResourceStore(options.storage);
    this.store.onChange(() => {
      this.createTargets.invalidate();
      this.aeGeneration += 1;
      this.aesById.clear();
    });
    this.audit = options.audit;
    this.logger = options.logger;
    this.requests = new Counter({
      name: 'medward_onem2m_requests_total',
      help: 'oneM2M requests handled, by operation and response status code',
      labelNames: ['op', 'rsc'],
      registers: [options.registry],
    });
    this.accessDenied = new Counter({
      name: 'medward_onem2m_access_denied_total',
      help: 'oneM2M requests rejected by access control or originator checks',
      registers: [options.registry],
    });
    this.notifier = new Notifier({
      identity: this.identity,
      config: options.config.notification,
      logger: options.logger,
      registry: options.registry,
      findAe: (id) => this.findAe(id),
      countNotification: (subscription) => this.countNotification(subscription),
    });
  }

  /** Creates the CSEBase resource on first start. */
  async initialize(): Promise<void> {
    const now = formatTimestamp(Date.now());
    await this.store.write(async (trx) => {
      if (await this.store.exists(trx, this.identity.cseRi)) {
        return;
      }
      await this.store.insert(trx, {
        ri: this.identity.cseRi,
        pi: null,
        rn: this.identity.cseName,
        srn: this.identity.cseName,
        ty: ResourceType.CSEBase,
        ct: now,
        lt: now,
        et: null,
        st: 0,
        cni: 0,
        cbs: 0,
        cs: 0,
        cr: null,
        attrs: {},
      });
    });
  }

  /**
   * Handles one request primitive and returns its response primitive. Never
   * throws: every failure becomes a response with its status code and an
   * `m2m:dbg` text.
   */
  async handle(input: unknown): Promise<ResponsePrimitive> {
    const { response } = await this.handleWithLocation(input, false);
    return response;
  }

  /**
   * `handle`, plus the address of a created resource for bindings that report
   * it. A binding passes the `origin` of the message. Without one the request
   * takes the caller's operation context, read here because a write in the
   * write queue runs in the context of the request that started its batch.
   */
  async handleWithLocation(
    input: unknown,
    fannedOut: boolean,
    origin: RequestOrigin | undefined = currentOrigin(),
  ): Promise<{ response: ResponsePrimitive; location?: string }> {
    const nowMs = Date.now();
    let request: RequestPrimitive;
    try {
      request = parseRequestPrimitive(input);
    } catch (error) {
      const response = this.errorResponse(error, recoverRequestId(input) ?? '', undefined, nowMs);
      this.requests.inc({ op: 'invalid', rsc: String(response.rsc) });
      return { response };
    }
    const context: RequestContext = {
      request,
      originator: request.fr,
      isAdmin: request.fr === this.config.adminOriginator,
      nowMs,
      now: formatTimestamp(nowMs),
      fannedOut,
      origin,
    };
    let result: OperationResult;
    try {
      result = await this.dispatch(context);
      if (!reportsOnlyOwnWrite(request, result)) {
        await this.store.writesSettled();
      }
    } catch (failure) {
      // An error can also reveal what the request found (4105 for a taken
      // name), so it waits for the syncs as well. A failed sync replaces it.
      const error = await this.store.writesSettled().then(
        () => failure,
        (syncFailure: unknown) => syncFailure,
      );
      const audited = rejectionOf(error);
      if (audited !== undefined) {
        await this.recordRejection(context, audited.reason, audited.event, audited.targetRi);
      }
      if (!isMedwardError(error)) {
        this.logger.error(
          { err: error, rqi: request.rqi, op: request.op },
          'oneM2M request failed',
        );
      } else if (rscOf(error) >= 5000) {
        this.logger.error(
          { err: error, rqi: request.rqi, op: request.op },
          'oneM2M request failed',
        );
      }
      const response = this.errorResponse(error, request.rqi, request, nowMs);
      this.requests.inc({ op: String(request.op), rsc: String(response.rsc) });
      return { response };
    }
    const response: ResponsePrimitive = {
      rsc: result.rsc,
      rqi: request.rqi,
      ...(result.pc === undefined ? {} : { pc: result.pc }),
      ...(request.fr === '' ? {} : { to: request.fr }),
      fr: this.identity.cseId,
      ot: formatTimestamp(Date.now()),
      ...(request.rvi === undefined ? {} : { rvi: request.rvi }),
      ...(result.cnst === undefined ? {} : { cnst: result.cnst }),
      ...(result.cnot === undefined ? {} : { cnot: result.cnot }),
    };
    this.requests.inc({ op: String(request.op), rsc: String(response.rsc) });
    return result.location === undefined ? { response } : { response, location: result.location };
  }

  private errorResponse(
    error: unknown,
    rqi: string,
    request: RequestPrimitive | undefined,
    nowMs: number,
  ): ResponsePrimitive {
    const rsc = rscOf(error);
    const dbg =
      isMedwardError(error) && (rsc < 5000 || error.code.startsWith('ONEM2M_'))
        ? error.message
        : 'internal error while handling the request; see the CSE log for its request identifier';
    return {
      rsc,
      rqi,
      pc: { 'm2m:dbg': dbg },
      ...(request === undefined || request.fr === '' ? {} : { to: request.fr }),
      fr: this.identity.cseId,
      ot: formatTimestamp(nowMs),
      ...(request?.rvi === undefined ? {} : { rvi: request.rvi }),
    };
  }

  private async dispatch(context: RequestContext): Promise<OperationResult> {
    const request = context.request;
    if (
      request.rt === ResponseType.NonBlockingSynch ||
      request.rt === ResponseType.NonBlockingAsynch
    ) {
      throw onem2mError(
        'NON_BLOCKING_REQUEST_NOT_SUPPORTED',
        'non-blocking requests (rt.rtv 1 or 2) are not supported; send a blocking request (rtv 3)',
      );
    }
    if (request.rqet !== undefined && (parseTimestamp(request.rqet) ?? 0) <= context.nowMs) {
      throw onem2mError(
        'REQUEST_TIMEOUT',
        `request expiration time rqet ${request.rqet} has passed`,
      );
    }
    const registration = request.op === Operation.Create && request.ty === ResourceType.AE;
    if (!registration) {
      await this.checkOriginator(context);
    }
    switch (request.op) {
      case Operation.Create:
        return createResource(this, context);
      case Operation.Retrieve:
        return retrieveResource(this, context);
      case Operation.Update:
        return updateResource(this, context);
      case Operation.Delete:
        return deleteResource(this, context);
      case Operation.Notify:
        return this.forwardNotification(context);
    }
  }

  /**
   * Rejects originators that are not registered AEs (4106): medward accepts
   * requests only from AEs it registered and from the administrator.
   */
  private async checkOriginator(context: RequestContext): Promise<void> {
    if (context.isAdmin) {
      return;
    }
    if (context.originator === '') {
      throw rejection(
        'BAD_REQUEST',
        'the originator (fr / X-M2M-Origin) is missing',
        'onem2m.originator-rejected',
      );
    }
    const aeId = normalizeOriginator(context.originator, this.identity);
    if (this.registeredAes.has(aeId)) {
      return;
    }
    const ae = await this.store.findByRi(this.store.db, aeId, context.now);
    if (ae !== undefined && ae.ty === ResourceType.AE) {
      this.registeredAes.add(aeId);
      return;
    }
    throw rejection(
      'ORIGINATOR_HAS_NOT_REGISTERED',
      `originator ${context.originator} is not a registered AE; register it with a CREATE of m2m:ae first`,
      'onem2m.originator-rejected',
    );
  }

  // ---------------------------------------------------------------- resolution

  /** Resolves a target address to its resource and ancestors; 4004 when any part is missing. */
  async resolve(ex: Executor, to: string, now: string): Promise<ResolvedTarget> {
    const address = parseTargetAddress(to, this.identity);
    let virtual: 'la' | 'ol' | undefined;
    let fanOutPath: string[] | undefined;
    let target: ResourceRecord;
    let chain: ResourceRecord[];
    if (address.kind === 'structured') {
      let segments = address.segments;
      const fopt = segments.indexOf('fopt');
      if (fopt >= 0) {
        fanOutPath = segments.slice(fopt + 1);
        segments = segments.slice(0, fopt);
      } else if (segments.at(-1) === 'la' || segments.at(-1) === 'ol') {
        virtual = segments.at(-1) as 'la' | 'ol';
        segments = segments.slice(0, -1);
      }
      const srns = [this.identity.cseName];
      for (const segment of segments) {
        srns.push(`${srns[srns.length - 1] ?? ''}/${segment}`);
      }
      const found = await this.store.findManyBySrn(ex, srns, now);
      const records: ResourceRecord[] = [];
      for (const srn of srns) {
        const record = found.get(srn);
        if (record === undefined) {
          throw onem2mError('NOT_FOUND', `resource ${srn} does not exist (target ${to})`);
        }
        records.push(record);
      }
      target = records.pop() as ResourceRecord;
      chain = records;
    } else {
      const record = await this.store.findByRi(ex, address.ri, now);
      if (record === undefined) {
        throw onem2mError(
          'NOT_FOUND',
          `resource with ID ${address.ri} does not exist (target ${to})`,
        );
      }
      const [first, ...rest] = address.rest;
      if (first === 'fopt') {
        fanOutPath = rest;
      } else if ((first === 'la' || first === 'ol') && rest.length === 0) {
        virtual = first;
      } else if (first !== undefined) {
        throw onem2mError(
          'NOT_FOUND',
          `target ${to} continues after a resource ID; only la, ol or fopt may follow it`,
        );
      }
      target = record;
      chain = await this.ancestorsOf(ex, record, now);
    }
    if (virtual !== undefined && target.ty !== ResourceType.Container) {
      throw onem2mError(
        'NOT_FOUND',
        `${virtual} exists only below a container; ${target.srn} is not one`,
      );
    }
    if (fanOutPath !== undefined && target.ty !== ResourceType.Group) {
      throw onem2mError('NOT_FOUND', `fopt exists only below a group; ${target.srn} is not one`);
    }
    return {
      target,
      chain,
      ...(virtual === undefined ? {} : { virtual }),
      ...(fanOutPath === undefined ? {} : { fanOutPath }),
    };
  }

  /** Returns whether a CREATE to `to` resolved recently, so `to` is valid and names no fanOutPoint. */
  isKnownCreateTarget(to: string): boolean {
    return this.createTargets.has(to);
  }

  /**
   * Resolves the target of a CREATE, the parent of the new resource, through
   * a cache that every update and deletion of a possible parent clears. The
   * parent's instance counters and stateTag in the result may be stale.
   */
  async resolveCreateTarget(ex: Executor, to: string, now: string): Promise<ResolvedTarget> {
    const cached = this.createTargets.lookup(to, now);
    if (cached !== undefined) {
      return cached;
    }
    const generation = this.createTargets.snapshot();
    const resolved = await this.resolve(ex, to, now);
    if (resolved.target.ty === ResourceType.ContentInstance) {
      return resolved;
    }
    return this.createTargets.remember(to, resolved, generation);
  }

  /** Ancestors of a record, CSEBase first, through one lookup of its srn prefixes. */
  async ancestorsOf(ex: Executor, record: ResourceRecord, now: string): Promise<ResourceRecord[]> {
    const parts = record.srn.split('/');
    const srns: string[] = [];
    for (let index = 1; index < parts.length; index += 1) {
      srns.push(parts.slice(0, index).join('/'));
    }
    const found = await this.store.findManyBySrn(ex, srns, now);
    return srns.map((srn) => {
      const ancestor = found.get(srn);
      if (ancestor === undefined) {
        throw onem2mError('NOT_FOUND', `ancestor ${srn} of ${record.srn} no longer exists`);
      }
      return ancestor;
    });
  }

  /** Resolves an address to a resource ID (for acpi, mid and nu values). */
  async resolveId(ex: Executor, id: string, now: string): Promise<ResourceRecord | undefined> {
    try {
      const resolved = await this.resolve(ex, id, now);
      return resolved.virtual === undefined && resolved.fanOutPath === undefined
        ? resolved.target
        : undefined;
    } catch (error) {
      if (isMedwardError(error) && error.code.startsWith('ONEM2M_')) {
        return undefined;
      }
      throw error;
    }
  }

  /**
   * Finds a registered AE by AE-ID or address, for notification targets.
   * A found AE is cached; a lookup that raced with a change is not.
   */
  private async findAe(id: string): Promise<ResourceRecord | undefined> {
    const now = formatTimestamp(Date.now());
    const cached = this.aesById.get(id);
    if (cached !== undefined && (cached.et === null || cached.et > now)) {
      return cached;
    }
    const generation = this.aeGeneration;
    const record = await this.resolveId(this.store.db, id, now);
    if (record?.ty !== ResourceType.AE) {
      return undefined;
    }
    if (generation === this.aeGeneration) {
      if (this.aesById.size >= AE_CACHE_LIMIT) {
        this.aesById.clear();
      }
      // Frozen, so a caller that tries to change the shared record fails.
      Object.freeze(record.attrs);
      this.aesById.set(id, Object.freeze(record));
    }
    return record;
  }

  // ---------------------------------------------------------------- access control

  /** Loads accessControlPolicy resources by ID through a cache that writes invalidate. */
  async policies(
    ids: readonly string[],
    now: string,
    ex: Executor = this.store.db,
  ): Promise<ResourceRecord[]> {
    const missing = ids.filter((id) => !this.acpCache.has(id));
    if (missing.length > 0) {
      const found = await this.store.findManyByRi(ex, missing, now);
      for (const id of missing) {
        const record = found.find((candidate) => candidate.ri === id);
        this.acpCache.set(
          id,
          record !== undefined && record.ty === ResourceType.AccessControlPolicy ? record : null,
        );
      }
    }
    const result: ResourceRecord[] = [];
    for (const id of ids) {
      const record = this.acpCache.get(id);
      if (record !== undefined && record !== null && (record.et === null || record.et > now)) {
        result.push(record);
      }
    }
    return result;
  }

  forgetPolicy(ri: string): void {
    this.acpCache.delete(ri);
  }

  /**
   * Checks whether the originator has `bit` on `target`: as administrator, through
   * the self-privileges of an accessControlPolicy target, as creator of the
   * target or an ancestor, or through the governing policies. `ex` must be the
   * caller's transaction when there is one.
   */
  async isAllowed(
    context: RequestContext,
    target: ResourceRecord,
    chain: readonly ResourceRecord[],
    bit: AccessControlOperation,
    ex: Executor = this.store.db,
  ): Promise<boolean> {
    if (context.isAdmin) {
      return true;
    }
    if (target.ty === ResourceType.AccessControlPolicy) {
      return privilegesGrant(target.attrs.pvs, context.originator, bit, this.identity);
    }
    if (isCreatorOnPath(target, chain, context.originator, this.identity)) {
      return true;
    }
    const ids = governingPolicyIds(target, chain);
    if (ids.length === 0) {
      return false;
    }
    const policies = await this.policies(ids, context.now, ex);
    return policies.some((policy) =>
      privilegesGrant(policy.attrs.pv, context.originator, bit, this.identity),
    );
  }

  /** Throws an audited 4103 (or `code`) when the originator lacks `bit` on `target`. */
  async requireAccess(
    context: RequestContext,
    target: ResourceRecord,
    chain: readonly ResourceRecord[],
    bit: AccessControlOperation,
    options: {
      code?: 'ORIGINATOR_HAS_NO_PRIVILEGE' | 'SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE';
      ex?: Executor;
    } = {},
  ): Promise<void> {
    if (await this.isAllowed(context, target, chain, bit, options.ex)) {
      return;
    }
    const operation =
      Object.entries(AccessControlOperation).find(([, value]) => value === bit)?.[0] ?? String(bit);
    throw rejection(
      options.code ?? 'ORIGINATOR_HAS_NO_PRIVILEGE',
      `originator ${context.originator} has no ${operation.toUpperCase()} privilege on ${target.srn}`,
      'onem2m.access-denied',
      target.ri,
    );
  }

  /**
   * Audits a rejected request. Every rejection is counted, but the audit trail
   * receives at most AUDITED_DENIALS_PER_MINUTE per originator and minute. The
   * next audited one carries the number suppressed in between, so a flood of
   * denied requests cannot turn into a flood of audit writes.
   */
  async recordRejection(
    context: RequestContext,
    reason: string,
    event: RejectionEvent,
    targetRi: string | undefined,
  ): Promise<void> {
    this.accessDenied.inc();
    const key = context.originator;
    const windowStart = Math.floor(context.nowMs / 60000);
    let state = this.denials.get(key);
    if (state === undefined || state.windowStart !== windowStart) {
      const suppressed = state?.suppressed ?? 0;
      state = { windowStart, count: 0, suppressed };
      if (this.denials.size > 10000) {
        this.denials.clear();
      }
      this.denials.set(key, state);
    }
    if (state.count >= AUDITED_DENIALS_PER_MINUTE) {
      state.suppressed += 1;
      return;
    }
    state.count += 1;
    const suppressed = state.suppressed;
    state.suppressed = 0;
    try {
      await this.audit.record({
        event,
        action: auditActionOf(context.request.op),
        outcome: 'minor-failure',
        actor: { kind: 'device', id: `onem2m:${context.originator || '(none)'}` },
        target: { kind: 'onem2m-resource', id: targetRi ?? context.request.to },
        reason,
        details: {
          op: context.request.op,
          to: context.request.to,
          rqi: context.request.rqi,
          ...(context.request.ty === undefined ? {} : { ty: context.request.ty }),
          suppressedSinceLast: suppressed,
        },
        ...context.origin,
      });
    } catch (error) {
      this.logger.error(
        { err: error, originator: context.originator },
        'audit of a oneM2M rejection failed',
      );
    }
  }

  /** Appends an audit record inside the transaction that makes the change. */
  async auditChange(
    trx: Executor,
    context: RequestContext,
    event: string,
    action: AuditAction,
    target: ResourceRecord,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.audit.append(trx as unknown as AuditExecutor<object>, {
      event,
      action,
      outcome: 'success',
      actor: { kind: 'device', id: `onem2m:${context.originator || '(none)'}` },
      target: { kind: 'onem2m-resource', id: target.ri },
      details: { srn: target.srn, ty: target.ty, rqi: context.request.rqi, ...details },
      ...context.origin,
    });
  }

  // ---------------------------------------------------------------- registration cache

  rememberAe(aeId: string): void {
    this.registeredAes.add(aeId);
  }

  forgetAes(): void {
    this.registeredAes.clear();
  }

  // ---------------------------------------------------------------- subscriptions

  /** Subscriptions directly below `ri`, through a cache that subscription writes invalidate. */
  async subscriptionsOf(ri: string, now: string): Promise<ResourceRecord[]> {
    let subscriptions = this.subscriptionCache.get(ri);
    if (subscriptions === undefined) {
      subscriptions = await this.store.children(this.store.db, ri, now, {
        ty: ResourceType.Subscription,
      });
      if (this.subscriptionCache.size >= SUBSCRIPTION_CACHE_LIMIT) {
        this.subscriptionCache.clear();
      }
      this.subscriptionCache.set(ri, subscriptions);
    }
    return subscriptions.filter(
      (subscription) => subscription.et === null || subscription.et > now,
    );
  }

  forgetSubscriptions(parentRi: string | null): void {
    if (parentRi === null) {
      this.subscriptionCache.clear();
    } else {
      this.subscriptionCache.delete(parentRi);
    }
  }

  /** Queues the notifications of committed events. */
  async emit(events: readonly ResourceEvent[], now: string): Promise<void> {
    for (const event of events) {
      const on =
        event.kind === 'update' || event.kind === 'delete' ? event.record.ri : event.parentRi;
      try {
        // A new subscription is not notified of its own creation.
        const subscriptions = (await this.subscriptionsOf(on, now)).filter(
          (subscription) => event.kind !== 'create-child' || subscription.ri !== event.child.ri,
        );
        if (subscriptions.length > 0) {
          this.notifier.notify(event, subscriptions);
        }
      } catch (error) {
        this.logger.error(
          { err: error, ri: on },
          'finding subscriptions for a notification failed',
        );
      }
    }
  }

  /** Applies a deletion's follow-up: caches, deletion notifications, parent events. */
  async afterDelete(outcome: DeleteOutcome, now: string): Promise<void> {
    const { record, subscriptions } = outcome;
    if (record.ty === ResourceType.AccessControlPolicy) {
      this.forgetPolicy(record.ri);
    }
    if (record.ty !== ResourceType.ContentInstance) {
      this.acpCache.clear();
      this.forgetAes();
    }
    const ownSubscriptions = subscriptions.filter((subscription) => subscription.pi === record.ri);
    if (ownSubscriptions.length > 0) {
      this.notifier.notify({ kind: 'delete', record }, ownSubscriptions);
    }
    for (const subscription of subscriptions) {
      this.forgetSubscriptions(subscription.pi);
      this.notifier.notifyDeletion(subscription);
    }
    if (record.ty === ResourceType.Subscription) {
      this.forgetSubscriptions(record.pi);
      this.notifier.notifyDeletion(record);
    }
    this.forgetSubscriptions(record.ri);
    if (record.pi !== null) {
      await this.emit([{ kind: 'delete-child', parentRi: record.pi, child: record }], now);
    }
  }

  /** Decrements a subscription's expirationCounter and deletes it at zero. */
  private async countNotification(subscription: ResourceRecord): Promise<void> {
    const nowMs = Date.now();
    const now = formatTimestamp(nowMs);
    const outcome = await this.store.write(async (trx) => {
      const current = await this.store.findByRi(trx, subscription.ri, now);
      if (current === undefined || typeof current.attrs.exc !== 'number') {
        return undefined;
      }
      const exc = current.attrs.exc - 1;
      if (exc > 0) {
        current.attrs.exc = exc;
        await this.store.update(trx, current, false);
        return undefined;
      }
      await this.store.delete(trx, current);
      return { record: current, subscriptions: [] } satisfies DeleteOutcome;
    });
    this.forgetSubscriptions(subscription.pi);
    if (outcome !== undefined) {
      this.logger.info(
        { subscription: subscription.ri },
        'subscription deleted: expiration counter reached zero',
      );
      await this.afterDelete(outcome, now);
    }
  }

  // ---------------------------------------------------------------- notify and fan-out

  /** Forwards a NOTIFY addressed to an AE to the AE's points of access. */
  private async forwardNotification(context: RequestContext): Promise<OperationResult> {
    const resolved = await this.resolve(this.store.db, context.request.to, context.now);
    if (resolved.fanOutPath !== undefined && !context.fannedOut) {
      return fanOut(this, context, resolved);
    }
    const target = resolved.target;
    if (target.ty !== ResourceType.AE || resolved.virtual !== undefined) {
      throw onem2mError(
        'OPERATION_NOT_ALLOWED',
        `NOTIFY is accepted for AE resources only; ${target.srn} is not one`,
      );
    }
    await this.requireAccess(
      context,
      target,
      resolved.chain,
      operationBit(Operation.Notify, false),
    );
    if (context.request.pc === undefined) {
      throw onem2mError('BAD_REQUEST', 'NOTIFY carries no content (pc)');
    }
    const failure = await this.notifier.deliverOnce(
      String(target.attrs.aei),
      context.request.pc,
      1,
    );
    if (failure !== undefined) {
      throw onem2mError(
        'TARGET_NOT_REACHABLE',
        `AE ${String(target.attrs.aei)} could not be reached: ${failure}`,
      );
    }
    return { rsc: ResponseStatusCode.OK };
  }

  // ---------------------------------------------------------------- expiration

  /** Starts the periodic removal of expired resources. */
  startSweeper(): void {
    this.notifier.resume();
    this.sweepTimer = setInterval(() => {
      this.sweeping ??= this.sweepExpired()
        .then(() => undefined)
        .catch((error: unknown) => {
          this.logger.error({ err: error }, 'expiration sweep failed');
        })
        .finally(() => {
          this.sweeping = undefined;
        });
    }, this.config.expirationSweepIntervalMs);
    this.sweepTimer.unref();
  }

  async stopSweeper(): Promise<void> {
    if (this.sweepTimer !== undefined) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
    await this.sweeping;
  }

  /** Deletes every resource whose expiration time has passed; returns how many. */
  async sweepExpired(): Promise<number> {
    let removed = 0;
    for (;;) {
      const nowMs = Date.now();
      const now = formatTimestamp(nowMs);
      const expired = await this.store.expired(this.store.db, now, SWEEP_BATCH);
      if (expired.length === 0) {
        return removed;
      }
      for (const record of expired) {
        const outcome = await this.store.write(async (trx) => {
          if (!(await this.store.exists(trx, record.ri))) {
            return undefined;
          }
          return this.deleteInTransaction(trx, record);
        });
        if (outcome !== undefined) {
          removed += 1;
          await this.afterDelete(outcome, now);
        }
      }
      if (expired.length < SWEEP_BATCH) {
        return removed;
      }
    }
  }

  /** Deletes a resource and its subtree, keeping a parent container's counters right. */
  async deleteInTransaction(trx: Executor, record: ResourceRecord): Promise<DeleteOutcome> {
    const subscriptions =
      record.ty === ResourceType.ContentInstance
        ? []
        : await this.store.subtreeOfType(trx, record.ri, ResourceType.Subscription);
    if (record.ty === ResourceType.ContentInstance && record.pi !== null) {
      await this.store.adjustContainer(trx, record.pi, -1, -record.cs, undefined);
    }
    await this.store.delete(trx, record);
    return {
      record,
      subscriptions: subscriptions.filter((subscription) => subscription.ri !== record.ri),
    };
  }
}
