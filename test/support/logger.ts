import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/core/logger.js';

/** Returns a logger whose lines are collected as parsed JSON objects. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
      }
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}
