/**
 * The write lock of a SQLite file shared between the event-loop thread and
 * one worker thread that writes to the same file on a connection of its own
 * (the 11073 observation writer).
 *
 * SQLite lets one connection write at a time. A connection that finds the
 * lock taken waits in SQLite's busy handler, which sleeps in steps of 1 to
 * 100 ms and retries. On the event-loop thread that sleep stops every
 * connection and timer of the process. In a worker, the event-loop thread
 * takes the lock again and again while the worker sleeps: a worker waited
 * 740 ms for its turn while the manager associated 1,000 agents.
 * Taking this lock before BEGIN IMMEDIATE keeps both from happening. The
 * event-loop thread waits with `Atomics.waitAsync` and serves its sockets
 * meanwhile. A worker blocks in `Atomics.wait` and wakes as soon as the lock
 * is free. When both want it, they take turns.
 */
import { ErrorKind, MedwardError } from '../errors.js';

const FREE = 0;
/** The event-loop thread's connection. */
const MAIN = 1;
/** A worker's connection. */
const WORKER = 2;

/** Indexes into the shared Int32Array. */
const HOLDER = 0;
/** The party that took the lock last, MAIN or WORKER; FREE before the first. */
const LAST = 1;
/** 1 while that party waits for the lock, at index WANTS + party. */
const WANTS = 1;
const SLOTS = 4;

/** Maximum time of one wait before a party reads the lock again. */
const WAIT_SLICE_MS = 50;

type Party = typeof MAIN | typeof WORKER;

/** Outcome of one attempt: the lock taken, or a wait while `slot` still contains `value`. */
type Attempt = { acquired: true } | { acquired: false; slot: number; value: number };

const ACQUIRED: Attempt = { acquired: true };

/**
 * Tries once to take the lock for `party`. When both parties want it, the
 * one that did not take it last goes first, so under load they alternate and
 * neither waits for more than one transaction of the other.
 */
function attempt(slots: Int32Array, party: Party): Attempt {
  const holder = Atomics.load(slots, HOLDER);
  if (holder !== FREE) {
    return { acquired: false, slot: HOLDER, value: holder };
  }
  const other = party === MAIN ? WORKER : MAIN;
  if (Atomics.load(slots, WANTS + other) === 1 && Atomics.load(slots, LAST) === party) {
    // Wakes when the other party takes the lock.
    return { acquired: false, slot: HOLDER, value: FREE };
  }
  if (Atomics.compareExchange(slots, HOLDER, FREE, party) !== FREE) {
    return { acquired: false, slot: HOLDER, value: Atomics.load(slots, HOLDER) };
  }
  Atomics.store(slots, WANTS + party, 0);
  Atomics.store(slots, LAST, party);
  // A party that stood back for this one waits for HOLDER to change.
  Atomics.notify(slots, HOLDER);
  return ACQUIRED;
}

function release(slots: Int32Array): void {
  Atomics.store(slots, HOLDER, FREE);
  Atomics.notify(slots, HOLDER);
}

/** Creates the shared memory behind a write lock; hand it to workers in their workerData. */
export function createWriteLockBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
}

/** The event-loop thread's side of the lock, taken by its one connection at most once at a time. */
export class MainWriteLock {
  private readonly slots: Int32Array;
  private held = false;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.slots = new Int32Array(buffer);
  }

  /**
   * Resolves once this thread holds the lock; rejects with STORAGE_BUSY when
   * it could not take it within `timeoutMs`.
   */
  async acquire(timeoutMs: number): Promise<void> {
    const slots = this.slots;
    const deadline = performance.now() + timeoutMs;
    Atomics.store(slots, WANTS + MAIN, 1);
    for (;;) {
      const outcome = attempt(slots, MAIN);
      if (outcome.acquired) {
        this.held = true;
        return;
      }
      const remainingMs = deadline - performance.now();
      if (remainingMs <= 0) {
        Atomics.store(slots, WANTS + MAIN, 0);
        Atomics.notify(slots, HOLDER);
        throw new MedwardError(
          ErrorKind.Unavailable,
          'STORAGE_BUSY',
          `the database write lock stayed taken for ${timeoutMs} ms; retry the request`,
        );
      }
      const wait = Atomics.waitAsync(
        slots,
        outcome.slot,
        outcome.value,
        Math.min(remainingMs, WAIT_SLICE_MS),
      );
      if (wait.async) {
        await wait.value;
      }
    }
  }

  /** Frees the lock; does nothing when this thread does not hold it. */
  release(): void {
    if (!this.held) {
      return;
    }
    this.held = false;
    release(this.slots);
  }

  /** Forgets a worker that exited, freeing the lock if it held it. */
  releaseAbandoned(): void {
    Atomics.store(this.slots, WANTS + WORKER, 0);
    if (Atomics.compareExchange(this.slots, HOLDER, WORKER, FREE) === WORKER) {
      Atomics.notify(this.slots, HOLDER);
    }
  }
}

/** Blocks the calling worker thread until it holds the lock. */
export function acquireInWorker(buffer: SharedArrayBuffer): void {
  const slots = new Int32Array(buffer);
  Atomics.store(slots, WANTS + WORKER, 1);
  for (;;) {
    const outcome = attempt(slots, WORKER);
    if (outcome.acquired) {
      return;
    }
    Atomics.wait(slots, outcome.slot, outcome.value, WAIT_SLICE_MS);
  }
}

/** Frees the lock a worker thread holds. */
export function releaseInWorker(buffer: SharedArrayBuffer): void {
  release(new Int32Array(buffer));
}
