import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

/** Replaces fs.fdatasync for the code under test; `restore` puts the original back. */
export function interceptFdatasync(
  replacement: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void,
): { restore: () => void } {
  const original = fs.fdatasync;
  (fs as { fdatasync: unknown }).fdatasync = replacement;
  syncBuiltinESMExports();
  return {
    restore() {
      (fs as { fdatasync: unknown }).fdatasync = original;
      syncBuiltinESMExports();
    },
  };
}

/** Waits `ms` and returns whether `promise` settled meanwhile. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, ms));
  return settled;
}
