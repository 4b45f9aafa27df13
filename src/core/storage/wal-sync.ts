import { closeSync, fdatasync, openSync } from 'node:fs';
import { MedwardError, ErrorKind } from '../errors.js';

/**
 * Maximum number of syncs running at once. A commit waits for the next sync
 * that starts after it. Letting a few overlap keeps that wait near one
 * sync's duration instead of up to two. Node's thread pool has 4 threads by
 * default, so one stays free for other file system work.
 */
const MAX_RUNNING_SYNCS = 3;

interface Waiter {
  /** The sync request this waiter needs to be on disk. */
  sequence: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Syncs SQLite's write-ahead log (the `-wal` file) on libuv's thread pool,
 * for transactions that committed with `synchronous = NORMAL`. Requests that
 * arrive while a sync runs share the next one, so one sync covers every
 * commit before it started.
 *
 * The file is opened once and kept open: Linux reports a failed write-back
 * only to descriptors that were open when it failed. After a failed sync
 * the log's state on disk is unknown, so every later request fails too and
 * the process must restart; SQLite recovers the database from the log when
 * it opens it.
 */
export class WalSync {
  private descriptor: number | undefined;
  private requested = 0;
  private synced = 0;
  /** The highest request covered by a sync that has started. */
  private started = 0;
  private running = 0;
  private failure: MedwardError | undefined;
  private readonly waiters: Waiter[] = [];

  constructor(readonly walPath: string) {}

  /**
   * Opens the log. Returns false when that is not possible because the log
   * does not exist yet or syncing has failed or stopped, and then the caller
   * must use a synchronous COMMIT instead.
   */
  open(): boolean {
    if (this.failure !== undefined) {
      return false;
    }
    if (this.descriptor !== undefined) {
      return true;
    }
    try {
      this.descriptor = openSync(this.walPath, 'r');
      return true;
    } catch {
      return false;
    }
  }

  /** Resolves once everything written to the log before this call is on disk. */
  sync(): Promise<void> {
    this.requested += 1;
    return this.waitFor(this.requested);
  }

  /** Resolves once every sync requested so far has finished, without requesting one. */
  settled(): Promise<void> {
    return this.synced >= this.requested ? Promise.resolve() : this.waitFor(this.requested);
  }

  private waitFor(sequence: number): Promise<void> {
    if (this.failure !== undefined) {
      return Promise.reject(this.failure);
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ sequence, resolve, reject });
      this.start();
    });
  }

  private start(): void {
    const descriptor = this.descriptor;
    if (this.started >= this.requested || this.running >= MAX_RUNNING_SYNCS) {
      return;
    }
    if (this.failure !== undefined || descriptor === undefined) {
      this.rejectAll(this.failure ?? this.stopped());
      return;
    }
    this.running += 1;
    const target = this.requested;
    this.started = target;
    fdatasync(descriptor, (error) => {
      this.running -= 1;
      if (error !== null) {
        this.failure ??= new MedwardError(
          ErrorKind.Unavailable,
          'STORAGE_UNAVAILABLE',
          `syncing the SQLite write-ahead log ${this.walPath} failed; committed transactions ` +
            'may not be on disk, so restart medward to let SQLite recover the database',
          { cause: error },
        );
        this.rejectAll(this.failure);
        this.closeDescriptor();
        return;
      }
      this.synced = Math.max(this.synced, target);
      let kept = 0;
      for (const waiter of this.waiters) {
        if (waiter.sequence <= target) {
          waiter.resolve();
        } else {
          this.waiters[kept] = waiter;
          kept += 1;
        }
      }
      this.waiters.length = kept;
      this.start();
      if (this.failure !== undefined && this.running === 0) {
        this.closeDescriptor();
      }
    });
  }

  private rejectAll(error: MedwardError): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(error);
    }
  }

  private stopped(): MedwardError {
    return new MedwardError(
      ErrorKind.Unavailable,
      'STORAGE_UNAVAILABLE',
      `storage stopped before the SQLite write-ahead log ${this.walPath} was synced`,
    );
  }

  /**
   * Closes the log. Call it after `settled()` and after the last commit:
   * requests made later fail, and so do any still waiting.
   */
  close(): void {
    this.failure ??= this.stopped();
    if (this.running > 0) {
      // Running syncs still use the descriptor; the last callback closes it.
      return;
    }
    this.rejectAll(this.failure);
    this.closeDescriptor();
  }

  private closeDescriptor(): void {
    if (this.descriptor !== undefined) {
      closeSync(this.descriptor);
      this.descriptor = undefined;
    }
  }
}
