/**
 * Bus publishes that follow a commit and that no caller awaits. Each is kept
 * until it settles, so that shutdown can wait for it, and failures are logged
 * at most once per interval with a count of those not logged.
 */
import type { EventBus } from '../../core/bus/index.js';
import type { Logger } from '../../core/logger.js';

/** Repeated publish failures are logged at most this often. */
const FAILURE_LOG_INTERVAL_MS = 10000;

export class TrackedPublishes {
  private readonly inFlight = new Set<Promise<void>>();
  private lastFailureLogMs = 0;
  private suppressedFailures = 0;

  /**
   * `failureMessage` is the constant log message of a failed publish, and
   * `onFailure` is called for every failure, logged or not.
   */
  constructor(
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly failureMessage: string,
    private readonly onFailure: () => void = () => undefined,
  ) {}

  /** Publishes `data` on `subject`; `fields` go into the log line of a failure. */
  publish(subject: string, data: unknown, msgId: string, fields: Record<string, unknown>): void {
    const publishing = this.bus.publish(subject, data, { msgId }).catch((error: unknown) => {
      this.failed(error, fields);
    });
    this.inFlight.add(publishing);
    void publishing.finally(() => {
      this.inFlight.delete(publishing);
    });
  }

  private failed(error: unknown, fields: Record<string, unknown>): void {
    this.onFailure();
    const now = Date.now();
    if (now - this.lastFailureLogMs < FAILURE_LOG_INTERVAL_MS) {
      this.suppressedFailures += 1;
      return;
    }
    this.logger.warn(
      { err: error, ...fields, suppressedFailures: this.suppressedFailures },
      this.failureMessage,
    );
    this.lastFailureLogMs = now;
    this.suppressedFailures = 0;
  }

  /** Resolves when every publish started so far has settled. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.all([...this.inFlight]);
    }
  }
}
