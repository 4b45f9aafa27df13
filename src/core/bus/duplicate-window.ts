/**
 * Message ids seen within the last `windowMs`, for publisher de-duplication.
 * Entries expire in insertion order because the window is the same for all.
 * At `maxIds` the oldest id is evicted early, so a burst above that many ids
 * per window shortens the effective window rather than growing memory.
 */
export class DuplicateWindow {
  private readonly expiresAtMs = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly maxIds: number,
  ) {}

  has(id: string, nowMs: number): boolean {
    this.prune(nowMs);
    return this.expiresAtMs.has(id);
  }

  record(id: string, nowMs: number): void {
    this.prune(nowMs);
    this.expiresAtMs.set(id, nowMs + this.windowMs);
    while (this.expiresAtMs.size > this.maxIds) {
      const oldest = this.expiresAtMs.keys().next();
      if (oldest.done === true) {
        break;
      }
      this.expiresAtMs.delete(oldest.value);
    }
  }

  clear(): void {
    this.expiresAtMs.clear();
  }

  private prune(nowMs: number): void {
    for (const [id, expiresAtMs] of this.expiresAtMs) {
      if (expiresAtMs > nowMs) {
        return;
      }
      this.expiresAtMs.delete(id);
    }
  }
}
