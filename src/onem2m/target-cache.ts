import type { ResolvedTarget } from './context.js';
import type { ResourceRecord } from './store.js';

/** Number of cached resolutions at which the cache drops all of them. */
const MAX_ENTRIES = 1000;

function isVisible(record: ResourceRecord, now: string): boolean {
  return record.et === null || record.et > now;
}

function freezeRecord(record: ResourceRecord): ResourceRecord {
  Object.freeze(record.attrs);
  return Object.freeze(record);
}

/**
 * Resolved CREATE targets by their `to` address, so a stream of
 * contentInstance creations under one container does not read the container
 * and its ancestors for every request.
 *
 * An entry contains what a CREATE uses of its parent: the type, identifiers,
 * attributes such as `acpi`, `mni` and `mbs`, the creator and the expiration
 * time. The parent's instance counters and stateTag in the entry go stale at
 * once and must not be read from it; the insert takes them from the row it
 * updates. Entries and their records are frozen, so a caller that tries to
 * change one fails instead of changing every later request's view.
 *
 * The store reports every update and deletion of a resource that can be a
 * parent, inside the transaction and again after it ended, and every failed
 * write that inserted one. Each report drops every entry. A resolution is
 * stored only if no report arrived while it was read, so a read that raced
 * with a change is used once and not kept.
 */
export class TargetCache {
  private readonly entries = new Map<string, ResolvedTarget>();
  private generation = 0;

  /** Drops every entry. The store calls it on each change to a possible parent. */
  invalidate(): void {
    this.generation += 1;
    this.entries.clear();
  }

  /** Returns the generation to pass to `remember` for a resolution read from now on. */
  snapshot(): number {
    return this.generation;
  }

  /**
   * Returns whether `to` has an entry. Only addresses that parsed without
   * errors and lead to no fanOutPoint get one.
   */
  has(to: string): boolean {
    return this.entries.has(to);
  }

  /** Returns a cached resolution whose target and ancestors are all unexpired at `now`. */
  lookup(to: string, now: string): ResolvedTarget | undefined {
    const entry = this.entries.get(to);
    if (entry === undefined) {
      return undefined;
    }
    if (!isVisible(entry.target, now) || !entry.chain.every((record) => isVisible(record, now))) {
      this.entries.delete(to);
      return undefined;
    }
    return entry;
  }

  /**
   * Stores a resolution read since `generation` and returns the frozen entry.
   * Returns the input unchanged when a change arrived meanwhile.
   */
  remember(to: string, resolved: ResolvedTarget, generation: number): ResolvedTarget {
    if (generation !== this.generation || resolved.virtual !== undefined) {
      return resolved;
    }
    if (resolved.fanOutPath !== undefined) {
      return resolved;
    }
    if (this.entries.size >= MAX_ENTRIES) {
      this.entries.clear();
    }
    const entry: ResolvedTarget = Object.freeze({
      target: freezeRecord(resolved.target),
      chain: Object.freeze(resolved.chain.map(freezeRecord)) as ResourceRecord[],
    });
    this.entries.set(to, entry);
    return entry;
  }
}
