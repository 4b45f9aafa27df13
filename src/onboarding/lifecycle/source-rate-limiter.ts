/** Rate and burst of a SourceRateLimiter. */
export interface SourceRateLimit {
  /** Tokens added to each source's bucket per minute, the sustained rate. */
  ratePerMinute: number;
  /** Bucket size: how many requests a source may make at once after a pause. */
  burst: number;
  /** Sources tracked at once; the least recently seen is forgotten beyond it. */
  maxTrackedSources: number;
}

/** Outcome of SourceRateLimiter.take. */
export type TakeResult =
  | { allowed: true }
  | {
      allowed: false;
      /** Time until the source's bucket contains a token again. */
      retryAfterMs: number;
      /** Whether this is the first rejection since the source was last allowed. */
      firstRejection: boolean;
    };

interface Bucket {
  tokens: number;
  updatedMs: number;
  /** Set by a rejection, cleared by the next allowed request. */
  limited: boolean;
}

/**
 * Token buckets per source (an IP address), held in memory. Each bucket
 * starts full with `burst` tokens and refills continuously at
 * `ratePerMinute`. A request takes one token or is rejected. Memory stays
 * bounded by `maxTrackedSources`: a source forgotten beyond it starts with
 * a full bucket when it returns, so the bound must exceed the number of
 * sources that are active together.
 */
export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillPerMs: number;

  constructor(
    private readonly limit: SourceRateLimit,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.refillPerMs = limit.ratePerMinute / 60_000;
  }

  /** Takes a token from `source`'s bucket, or reports how long until one is available. */
  take(source: string): TakeResult {
    const nowMs = this.nowMs();
    let bucket = this.buckets.get(source);
    if (bucket === undefined) {
      bucket = { tokens: this.limit.burst, updatedMs: nowMs, limited: false };
    } else {
      // Deleting and setting again moves the source to the end of the map's
      // order, so the first key is always the least recently seen.
      this.buckets.delete(source);
      const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
      bucket.tokens = Math.min(this.limit.burst, bucket.tokens + elapsedMs * this.refillPerMs);
      bucket.updatedMs = nowMs;
    }
    this.buckets.set(source, bucket);
    this.forgetBeyondLimit();
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.limited = false;
      return { allowed: true };
    }
    const firstRejection = !bucket.limited;
    bucket.limited = true;
    return {
      allowed: false,
      retryAfterMs: Math.ceil((1 - bucket.tokens) / this.refillPerMs),
      firstRejection,
    };
  }

  /** Number of sources tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  private forgetBeyondLimit(): void {
    while (this.buckets.size > this.limit.maxTrackedSources) {
      const oldest = this.buckets.keys().next();
      if (oldest.done === true) {
        return;
      }
      this.buckets.delete(oldest.value);
    }
  }
}
