import { sql, type Kysely, type Transaction } from 'kysely';
import type { Storage } from '../core/storage/index.js';
import { isMedwardError } from '../core/errors.js';
import { onem2mError } from './status.js';
import { ResourceType, type FilterCriteria } from './types.js';
import { StoreSql } from './store-sql.js';
import { WriteQueue, type WriteOptions } from './write-queue.js';

export interface ResourceRow {
  ri: string;
  pi: string | null;
  rn: string;
  srn: string;
  ty: number;
  ct: string;
  lt: string;
  et: string | null;
  st: number;
  cni: number;
  cbs: number;
  cs: number;
  cr: string | null;
  attrs: string;
}

export interface LabelRow {
  ri: string;
  label: string;
}

// A type alias, not an interface: Kysely's withTables needs an index-compatible type.
export type Onem2mTables = {
  onem2m_resource: ResourceRow;
  onem2m_label: LabelRow;
};

export type Executor = Kysely<Onem2mTables> | Transaction<Onem2mTables>;

/** A container's stateTag and instance counters. */
export interface ContainerCounters {
  st: number;
  cni: number;
  cbs: number;
}

/** A stored resource; `attrs` has every attribute that has no column of its own. */
export interface ResourceRecord {
  ri: string;
  pi: string | null;
  rn: string;
  srn: string;
  ty: ResourceType;
  ct: string;
  lt: string;
  et: string | null;
  st: number;
  cni: number;
  cbs: number;
  cs: number;
  cr: string | null;
  attrs: Record<string, unknown>;
}

/** Attributes kept in columns; never stored inside `attrs`. */
export const columnAttributes: ReadonlySet<string> = new Set([
  'ri',
  'pi',
  'rn',
  'ty',
  'ct',
  'lt',
  'et',
  'st',
  'cni',
  'cbs',
  'cs',
  'cr',
]);

function toRecord(row: ResourceRow): ResourceRecord {
  return {
    ri: row.ri,
    pi: row.pi,
    rn: row.rn,
    srn: row.srn,
    ty: row.ty as ResourceType,
    ct: row.ct,
    lt: row.lt,
    et: row.et,
    st: row.st,
    cni: row.cni,
    cbs: row.cbs,
    cs: row.cs,
    cr: row.cr,
    attrs: JSON.parse(row.attrs) as Record<string, unknown>,
  };
}

/** Returns the values of the insert statement in its column order. */
function insertValues(record: ResourceRecord): unknown[] {
  return [
    record.ri,
    record.pi,
    record.rn,
    record.srn,
    record.ty,
    record.ct,
    record.lt,
    record.et,
    record.st,
    record.cni,
    record.cbs,
    record.cs,
    record.cr,
    JSON.stringify(record.attrs),
  ];
}

/** Translates a failed INSERT of `record` to the oneM2M error it means. */
function insertFailure(error: unknown, record: ResourceRecord): unknown {
  if (isMedwardError(error) && error.code === 'STORAGE_CONFLICT') {
    return onem2mError(
      'CONFLICT',
      `a resource named ${record.rn} already exists under the parent (or the resource ID ${record.ri} is taken)`,
    );
  }
  if (isMedwardError(error) && error.code === 'STORAGE_REFERENCE_VIOLATION') {
    return onem2mError('NOT_FOUND', 'the parent resource was deleted while the request ran');
  }
  return error;
}

function labelsOf(record: ResourceRecord): string[] {
  const lbl = record.attrs.lbl;
  return Array.isArray(lbl)
    ? [...new Set(lbl.filter((l): l is string => typeof l === 'string'))]
    : [];
}

/** Options of a subtree search (discovery). */
export interface SubtreeQuery {
  baseRi: string;
  /** Levels below the base to search; undefined searches the whole subtree. */
  levels?: number;
  filter: FilterCriteria;
  now: string;
  /** Rows to skip and to return, in (ct, ri) order. */
  offset: number;
  limit: number;
}

/**
 * Storage of the CSE's resource tree through the core storage layer. Every
 * filter value reaches the database as a bound parameter. Reads treat a
 * resource whose `et` has passed as absent, before the expiration sweep
 * removes it.
 */
export class ResourceStore {
  readonly db: Kysely<Onem2mTables>;
  private readonly writes: WriteQueue<Onem2mTables>;
  private readonly sql: StoreSql;
  private readonly changeListeners: (() => void)[] = [];
  private changeCount = 0;
  /** Inserts of resources other than contentInstances, which can be parents. */
  private parentInsertCount = 0;

  constructor(readonly storage: Storage) {
    this.db = storage.db.withTables<Onem2mTables>();
    this.writes = new WriteQueue<Onem2mTables>(storage);
    this.sql = new StoreSql(storage);
  }

  /**
   * Registers `listener` to run when a stored resource other than a
   * contentInstance is updated or deleted: at the statement, and again when
   * the transaction that made the change has committed or rolled back.
   */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  private changed(): void {
    this.changeCount += 1;
    for (const listener of this.changeListeners) {
      listener();
    }
  }

  /**
   * Runs `work` as one transaction that has committed, and is on disk, when
   * the promise resolves. See `WriteOptions` for `backgroundSync`.
   */
  async write<R>(
    work: (trx: Transaction<Onem2mTables>) => Promise<R>,
    options: WriteOptions = {},
  ): Promise<R> {
    const changesBefore = this.changeCount;
    const insertsBefore = this.parentInsertCount;
    try {
      return await this.writes.run(work, options);
    } catch (error) {
      // A write of a batch whose COMMIT failed rejects too. Readers in the
      // batch may have seen a resource it inserted, which now never existed.
      if (this.parentInsertCount !== insertsBefore) {
        this.changed();
      }
      throw error;
    } finally {
      // Readers may have seen the change before the transaction ended, so the
      // listeners run again now that it is committed or rolled back.
      if (this.changeCount !== changesBefore) {
        this.changed();
      }
    }
  }

  /**
   * Resolves once every write made with `backgroundSync` so far is on disk.
   * A response that reports what a request read waits for it, so no
   * originator learns of a resource that a crash could still lose.
   */
  writesSettled(): Promise<void> {
    return this.storage.backgroundSyncsSettled();
  }

  async findByRi(ex: Executor, ri: string, now: string): Promise<ResourceRecord | undefined> {
    const rows = await this.sql.rows<ResourceRow>(ex, 'findByRi', [ri, now]);
    const row = rows[0];
    return row === undefined ? undefined : toRecord(row);
  }

  /** Finds visible resources by structured name; the result is keyed by srn. */
  async findManyBySrn(
    ex: Executor,
    srns: readonly string[],
    now: string,
  ): Promise<Map<string, ResourceRecord>> {
    const result = new Map<string, ResourceRecord>();
    if (srns.length === 0) {
      return result;
    }
    const rows = await ex
      .selectFrom('onem2m_resource')
      .selectAll()
      .where('srn', 'in', srns)
      .where((eb) => eb.or([eb('et', 'is', null), eb('et', '>', now)]))
      .execute();
    for (const row of rows) {
      result.set(row.srn, toRecord(row));
    }
    return result;
  }

  async findManyByRi(ex: Executor, ris: readonly string[], now: string): Promise<ResourceRecord[]> {
    if (ris.length === 0) {
      return [];
    }
    const rows = await ex
      .selectFrom('onem2m_resource')
      .selectAll()
      .where('ri', 'in', ris)
      .where((eb) => eb.or([eb('et', 'is', null), eb('et', '>', now)]))
      .execute();
    return rows.map(toRecord);
  }

  async exists(ex: Executor, ri: string): Promise<boolean> {
    const rows = await this.sql.rows(ex, 'exists', [ri]);
    return rows.length > 0;
  }

  async srnTaken(ex: Executor, srn: string): Promise<boolean> {
    const row = await ex
      .selectFrom('onem2m_resource')
      .select('ri')
      .where('srn', '=', srn)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Direct children of `pi`, optionally of one type, oldest first. */
  async children(
    ex: Executor,
    pi: string,
    now: string,
    options: { ty?: number; limit?: number } = {},
  ): Promise<ResourceRecord[]> {
    let query = ex
      .selectFrom('onem2m_resource')
      .selectAll()
      .where('pi', '=', pi)
      .where((eb) => eb.or([eb('et', 'is', null), eb('et', '>', now)]));
    if (options.ty !== undefined) {
      query = query.where('ty', '=', options.ty);
    }
    query = query.orderBy('ty').orderBy('st').orderBy('ct').orderBy('ri');
    if (options.limit !== undefined) {
      query = query.limit(options.limit);
    }
    const rows = await query.execute();
    return rows.map(toRecord);
  }

  async insert(ex: Executor, record: ResourceRecord): Promise<void> {
    if (record.ty !== ResourceType.ContentInstance) {
      this.parentInsertCount += 1;
    }
    try {
      await this.sql.rows(ex, 'insert', insertValues(record));
    } catch (error) {
      throw insertFailure(error, record);
    }
    await this.insertLabels(ex, record);
  }

  /**
   * Inserts a contentInstance and counts it in its container: deletes the
   * container's expired instances, adds the new one to the container's cni,
   * cbs and st, and gives it the container's new st. Returns the container's
   * counters. On PostgreSQL this is one statement instead of four round trips.
   */
  async insertInstance(
    ex: Executor,
    containerRi: string,
    record: ResourceRecord,
    now: string,
  ): Promise<ContainerCounters> {
    if (this.storage.dialect !== 'postgres') {
      const expired = await this.expiredInstances(ex, containerRi, now);
      if (expired.length > 0) {
        await this.deleteInstances(
          ex,
          expired.map((instance) => instance.ri),
        );
        await this.adjustContainer(
          ex,
          containerRi,
          -expired.length,
          -expired.reduce((sum, instance) => sum + instance.cs, 0),
          undefined,
        );
      }
      const counters = await this.adjustContainer(ex, containerRi, 1, record.cs, now);
      record.st = counters.st;
      await this.insert(ex, record);
      return counters;
    }
    let rows: ContainerCounters[];
    try {
      rows = await this.sql.postgresRows<ContainerCounters>(ex, 'insertInstanceCounted', [
        now,
        containerRi,
        record.cs,
        record.ri,
        record.rn,
        record.srn,
        record.ct,
        record.lt,
        record.et,
        record.cr,
        JSON.stringify(record.attrs),
      ]);
    } catch (error) {
      throw insertFailure(error, record);
    }
    const counters = rows[0];
    if (counters === undefined) {
      throw onem2mError('NOT_FOUND', `container ${containerRi} was deleted while the request ran`);
    }
    record.st = counters.st;
    await this.insertLabels(ex, record);
    return { st: counters.st, cni: counters.cni, cbs: counters.cbs };
  }

  private async insertLabels(ex: Executor, record: ResourceRecord): Promise<void> {
    for (const label of labelsOf(record)) {
      await this.sql.rows(ex, 'insertLabel', [record.ri, label]);
    }
  }

  /** Rewrites a resource's attributes, lt, et and st; labels are replaced when they changed. */
  async update(ex: Executor, record: ResourceRecord, labelsChanged: boolean): Promise<void> {
    if (record.ty !== ResourceType.ContentInstance) {
      this.changed();
    }
    await this.sql.rows(ex, 'update', [
      record.lt,
      record.et,
      record.st,
      JSON.stringify(record.attrs),
      record.ri,
    ]);
    if (labelsChanged) {
      await this.sql.rows(ex, 'deleteLabels', [record.ri]);
      await this.insertLabels(ex, record);
    }
  }

  /** Deletes a resource; the foreign key cascade deletes its subtree and their labels. */
  async delete(ex: Executor, record: Pick<ResourceRecord, 'ri' | 'ty'>): Promise<void> {
    if (record.ty !== ResourceType.ContentInstance) {
      this.changed();
    }
    await this.sql.rows(ex, 'delete', [record.ri]);
  }

  /**
   * Adds to a container's instance counters and returns the new values. An
   * addition of instances also increments its stateTag. The UPDATE locks the
   * container row, so concurrent instance creations on PostgreSQL queue up
   * here.
   */
  async adjustContainer(
    ex: Executor,
    ri: string,
    deltaInstances: number,
    deltaBytes: number,
    lt: string | undefined,
  ): Promise<{ st: number; cni: number; cbs: number }> {
    // A removal leaves st and lt alone. Its statement does not name st, so the
    // (pi, ty, st) index entry of the container is not rewritten.
    const rows =
      deltaInstances > 0 || lt !== undefined
        ? await this.sql.rows<{ st: number; cni: number; cbs: number }>(ex, 'adjustContainer', [
            deltaInstances > 0 ? 1 : 0,
            deltaInstances,
            deltaBytes,
            lt ?? null,
            ri,
          ])
        : await this.sql.rows<{ st: number; cni: number; cbs: number }>(ex, 'adjustCounters', [
            deltaInstances,
            deltaBytes,
            ri,
          ]);
    const row = rows[0];
    if (row === undefined) {
      throw onem2mError('NOT_FOUND', `container ${ri} was deleted while the request ran`);
    }
    return { st: row.st, cni: row.cni, cbs: row.cbs };
  }

  /** The oldest instances of a container in creation order, through the (pi, ty, st) index. */
  async oldestInstances(
    ex: Executor,
    pi: string,
    limit: number,
  ): Promise<{ ri: string; cs: number }[]> {
    const rows = await this.sql.rows<{ ri: string; cs: number }>(ex, 'oldestInstances', [
      pi,
      ResourceType.ContentInstance,
      limit,
    ]);
    return rows.map((row) => ({ ri: row.ri, cs: row.cs }));
  }

  /**
   * Deletes the oldest instance of a container in one statement through the
   * (pi, ty, st) index. Returns its content size, or undefined when the
   * container has no instance.
   */
  async deleteOldestInstance(ex: Executor, pi: string): Promise<number | undefined> {
    const rows = await this.sql.rows<{ cs: number }>(ex, 'deleteOldestInstance', [
      pi,
      ResourceType.ContentInstance,
    ]);
    return rows[0]?.cs;
  }

  /**
   * Deletes the oldest instance of a container and takes it off the
   * container's cni and cbs. Returns the new counters, or undefined when the
   * container has no instance.
   */
  async evictOldestInstance(ex: Executor, pi: string): Promise<ContainerCounters | undefined> {
    if (this.storage.dialect === 'postgres') {
      const rows = await this.sql.postgresRows<ContainerCounters>(ex, 'evictOldestInstance', [pi]);
      const row = rows[0];
      return row === undefined ? undefined : { st: row.st, cni: row.cni, cbs: row.cbs };
    }
    const size = await this.deleteOldestInstance(ex, pi);
    return size === undefined ? undefined : this.adjustContainer(ex, pi, -1, -size, undefined);
  }

  /** Expired instances of one container, found through the et index. */
  async expiredInstances(
    ex: Executor,
    pi: string,
    now: string,
  ): Promise<{ ri: string; cs: number }[]> {
    const rows = await this.sql.rows<{ ri: string; cs: number }>(ex, 'expiredInstances', [
      now,
      pi,
      ResourceType.ContentInstance,
    ]);
    return rows.map((row) => ({ ri: row.ri, cs: row.cs }));
  }

  /** Deletes contentInstances by ID; never call it with other resources, whose deletion must be reported. */
  async deleteInstances(ex: Executor, ris: readonly string[]): Promise<void> {
    if (ris.length > 0) {
      await this.sql.deleteMany(ex, ris);
    }
  }

  /** The newest or oldest visible instance of a container. */
  async edgeInstance(
    ex: Executor,
    pi: string,
    which: 'latest' | 'oldest',
    now: string,
  ): Promise<ResourceRecord | undefined> {
    const row = await ex
      .selectFrom('onem2m_resource')
      .selectAll()
      .where('pi', '=', pi)
      .where('ty', '=', ResourceType.ContentInstance)
      .where((eb) => eb.or([eb('et', 'is', null), eb('et', '>', now)]))
      .orderBy('st', which === 'latest' ? 'desc' : 'asc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? undefined : toRecord(row);
  }

  /** Resources whose expiration time has passed, oldest expiry first. */
  async expired(ex: Executor, now: string, limit: number): Promise<ResourceRecord[]> {
    const rows = await ex
      .selectFrom('onem2m_resource')
      .selectAll()
      .where('et', '<=', now)
      .orderBy('et')
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }

  /**
   * Subscriptions and other non-instance resources in the subtree of `ri`,
   * including `ri` itself. ContentInstances have no children, so the walk
   * does not descend into them, and deleting a container with a million
   * instances costs no more here than an empty one.
   */
  async subtreeOfType(ex: Executor, ri: string, ty: number): Promise<ResourceRecord[]> {
    const rows = await ex
      .withRecursive('tree(ri)', (qb) =>
        qb
          .selectFrom('onem2m_resource')
          .select('ri')
          .where('ri', '=', ri)
          .unionAll((union) =>
            union
              .selectFrom('onem2m_resource as child')
              .innerJoin('tree', 'tree.ri', 'child.pi')
              .select('child.ri')
              .where('child.ty', '!=', ResourceType.ContentInstance),
          ),
      )
      .selectFrom('onem2m_resource')
      .innerJoin('tree', 'tree.ri', 'onem2m_resource.ri')
      .selectAll('onem2m_resource')
      .where('onem2m_resource.ty', '=', ty)
      .execute();
    return rows.map(toRecord);
  }

  /**
   * Discovery: resources below `baseRi` (not the base itself) within `levels`
   * that match the filter criteria, in (ct, ri) order. Every criterion is a
   * bound parameter.
   */
  async searchSubtree(ex: Executor, query: SubtreeQuery): Promise<ResourceRecord[]> {
    const maxDepth = query.levels ?? 1_000_000;
    const filter = query.filter;
    const or = filter.fo === 2;
    const rows = await ex
      .withRecursive('tree(ri, depth)', (qb) =>
        qb
          .selectFrom('onem2m_resource')
          .select(['ri', sql<number>`0`.as('depth')])
          .where('ri', '=', query.baseRi)
          .unionAll((union) =>
            union
              .selectFrom('onem2m_resource as child')
              .innerJoin('tree', 'tree.ri', 'child.pi')
              .select(['child.ri', sql<number>`tree.depth + 1`.as('depth')])
              .where(sql<boolean>`tree.depth < ${maxDepth}`),
          ),
      )
      .selectFrom('onem2m_resource as r')
      .innerJoin('tree', 'tree.ri', 'r.ri')
      .selectAll('r')
      .where('tree.depth', '>', 0)
      .where((eb) => eb.or([eb('r.et', 'is', null), eb('r.et', '>', query.now)]))
      .where((eb) => {
        const conditions = [];
        if (filter.ty !== undefined) {
          conditions.push(eb('r.ty', 'in', filter.ty));
        }
        if (filter.lbl !== undefined) {
          const labels = filter.lbl;
          conditions.push(
            eb(
              'r.ri',
              'in',
              eb
                .selectFrom('onem2m_label')
                .select('onem2m_label.ri')
                .where('onem2m_label.label', 'in', labels),
            ),
          );
        }
        if (filter.cra !== undefined) {
          conditions.push(eb('r.ct', '>', filter.cra));
        }
        if (filter.crb !== undefined) {
          conditions.push(eb('r.ct', '<', filter.crb));
        }
        if (filter.ms !== undefined) {
          conditions.push(eb('r.lt', '>', filter.ms));
        }
        if (filter.us !== undefined) {
          conditions.push(eb('r.lt', '<', filter.us));
        }
        if (filter.exa !== undefined) {
          conditions.push(eb('r.et', '>', filter.exa));
        }
        if (filter.exb !== undefined) {
          conditions.push(eb('r.et', '<', filter.exb));
        }
        if (filter.sts !== undefined) {
          conditions.push(eb('r.st', '<', filter.sts));
        }
        if (filter.stb !== undefined) {
          conditions.push(eb('r.st', '>=', filter.stb));
        }
        if (filter.sza !== undefined) {
          conditions.push(
            eb.and([eb('r.ty', '=', ResourceType.ContentInstance), eb('r.cs', '>=', filter.sza)]),
          );
        }
        if (filter.szb !== undefined) {
          conditions.push(
            eb.and([eb('r.ty', '=', ResourceType.ContentInstance), eb('r.cs', '<', filter.szb)]),
          );
        }
        if (conditions.length === 0) {
          return sql<boolean>`1 = 1`;
        }
        return or ? eb.or(conditions) : eb.and(conditions);
      })
      .orderBy('r.ct')
      .orderBy('r.ri')
      .limit(query.limit)
      .offset(query.offset)
      .execute();
    return rows.map(toRecord);
  }
}
