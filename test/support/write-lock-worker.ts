// Worker thread for the write lock tests: takes and frees the lock on request
// and reports each step with the time it happened.
import { parentPort, workerData } from 'node:worker_threads';
import { acquireInWorker, releaseInWorker } from '../../src/core/storage/write-lock.js';

export type WriteLockCommand = 'acquire' | 'release' | 'release-and-acquire';

export interface WriteLockEvent {
  event: 'acquired' | 'released';
  atMs: number;
}

const port = parentPort;
if (port === null) {
  throw new Error('write-lock-worker.ts runs only as a worker thread');
}
const buffer = (workerData as { buffer: SharedArrayBuffer }).buffer;

function report(event: WriteLockEvent['event']): void {
  const message: WriteLockEvent = { event, atMs: performance.timeOrigin + performance.now() };
  port?.postMessage(message);
}

port.on('message', (command: WriteLockCommand) => {
  if (command === 'release' || command === 'release-and-acquire') {
    releaseInWorker(buffer);
    report('released');
  }
  if (command === 'acquire' || command === 'release-and-acquire') {
    acquireInWorker(buffer);
    report('acquired');
  }
});
