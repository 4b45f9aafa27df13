/**
 * JetStream streams for tests: names unique to one test, so parallel runs
 * and leftovers never collide, and their removal afterwards.
 */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { testServices } from './services.js';

/** Returns a stream name and subject prefix unique to one test. */
export function uniqueStreamNames(): { stream: string; subjectPrefix: string } {
  const suffix = randomBytes(6).toString('hex');
  return { stream: `MEDWARD_TEST_${suffix}`, subjectPrefix: `medwardtest${suffix}` };
}

/** Deletes a test stream; a stream that does not exist is no error. */
export async function deleteStream(stream: string): Promise<void> {
  const nc = await connect({ servers: testServices.nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => false);
  } finally {
    await nc.close();
  }
}
