import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { JetStreamBus, createEventBus, type BusMessage } from '../../../src/core/bus/index.js';
import { isMedwardError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import { deleteStream, uniqueStreamNames as uniqueNames } from '../../support/jetstream.js';
import { requireService, testServices } from '../../support/services.js';
import { captureLogger, runBusContract, waitFor, type BusUnderTest } from './contract.js';

async function makeJetStreamBus(t: TestContext, logger: Logger): Promise<BusUnderTest | undefined> {
  if (!(await requireService(t, 'nats'))) {
    return undefined;
  }
  const names = uniqueNames();
  const bus = new JetStreamBus({ servers: testServices.nats.url, ...names }, logger);
  await bus.start();
  return {
    bus,
    cleanup: async () => {
      await bus.stop();
      await deleteStream(names.stream);
    },
  };
}

runBusContract('JetStreamBus', makeJetStreamBus, {
  newGroupSeesEarlierMessages: true,
  reason: 'a new durable consumer starts at the first message of the stream',
});

void describe('JetStreamBus durability', () => {
  void test('group resumes after bus restart', { timeout: 20_000 }, async (t) => {
    if (!(await requireService(t, 'nats'))) {
      return;
    }
    const names = uniqueNames();
    const options = { servers: testServices.nats.url, ...names };
    try {
      const first = new JetStreamBus(options, captureLogger().logger);
      await first.start();
      const firstSeen: BusMessage[] = [];
      const subscription = await first.subscribe({
        subject: 'reading.*',
        group: 'archive',
        ackWaitMs: 300,
        handler: (message) => void firstSeen.push(message),
      });
      await first.publish('reading.heart', { n: 1 });
      await waitFor('first delivery', () => firstSeen.length === 1);
      await subscription.close();
      await first.publish('reading.heart', { n: 2 }, { msgId: 'reading-2' });
      await first.stop();

      const second = new JetStreamBus(options, captureLogger().logger);
      await second.start();
      const secondSeen: BusMessage[] = [];
      await second.subscribe({
        subject: 'reading.*',
        group: 'archive',
        ackWaitMs: 300,
        handler: (message) => void secondSeen.push(message),
      });
      await second.publish('reading.heart', { n: 2 }, { msgId: 'reading-2' });
      await second.publish('reading.heart', { n: 3 });
      await waitFor('deliveries after restart', () => secondSeen.length >= 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await second.stop();

      assert.deepEqual(
        secondSeen.map((message) => message.data),
        [{ n: 2 }, { n: 3 }],
      );
      assert.equal(secondSeen[0]!.id, 'reading-2');
    } finally {
      await deleteStream(names.stream);
    }
  });

  void test('refused connection is unavailable', { timeout: 20_000 }, async () => {
    // Port 9 on the loopback address has no listener here, so the connection is refused.
    const bus = createEventBus(
      { kind: 'nats', url: 'nats://127.0.0.1:9', ...uniqueNames() },
      captureLogger().logger,
    );
    assert.ok(bus instanceof JetStreamBus);
    await assert.rejects(bus.start(), (error: unknown) => {
      assert.ok(isMedwardError(error));
      assert.equal(error.kind, 'unavailable');
      assert.equal(error.code, 'BUS_UNAVAILABLE');
      return true;
    });
  });
});
