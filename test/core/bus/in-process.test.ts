import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InProcessBus, createEventBus } from '../../../src/core/bus/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { hasCode, runBusContract, sleep, waitFor } from './contract.js';

runBusContract(
  'InProcessBus',
  async (_t, logger) => {
    const bus = new InProcessBus(logger);
    await bus.start();
    return { bus, cleanup: () => bus.stop() };
  },
  {
    newGroupSeesEarlierMessages: true,
    reason: 'the in-process bus keeps recent messages for groups that subscribe later',
  },
);

/** Subscribes a new group to `subject` and returns the data it received after `settleMs`. */
async function replayedTo(bus: InProcessBus, subject: string, settleMs = 50): Promise<unknown[]> {
  const seen: unknown[] = [];
  await bus.subscribe({
    subject,
    group: `replay-${Math.random().toString(36).slice(2)}`,
    handler: (message) => void seen.push(message.data),
  });
  await sleep(settleMs);
  return seen;
}

void describe('InProcessBus retention', () => {
  void test('new group gets newest kept messages', async () => {
    const bus = new InProcessBus(silentLogger(), { maxRetainedMessages: 2 });
    await bus.start();
    try {
      for (let n = 0; n < 3; n += 1) {
        await bus.publish('kept.item', n);
      }
      await bus.publish('other.item', 'x');
      // The limit counts every subject: the newest two are kept.item 2 and other.item.
      assert.deepEqual(await replayedTo(bus, 'kept.*'), [2]);
      assert.deepEqual(await replayedTo(bus, 'other.*'), ['x']);
    } finally {
      await bus.stop();
    }
  });

  void test('retention keeps count, bytes and age', async () => {
    const byCount = new InProcessBus(silentLogger(), { maxRetainedMessages: 2 });
    const byBytes = new InProcessBus(silentLogger(), { maxRetainedBytes: 400 });
    const byAge = new InProcessBus(silentLogger(), { retainMs: 30 });
    const none = new InProcessBus(silentLogger(), { maxRetainedMessages: 0 });
    const buses = [byCount, byBytes, byAge, none];
    for (const bus of buses) {
      await bus.start();
    }
    try {
      for (const bus of buses) {
        for (let n = 0; n < 3; n += 1) {
          await bus.publish('kept.item', { n, padding: 'p'.repeat(200) });
        }
      }
      const numbers = (data: unknown[]): unknown[] =>
        data.map((item) => (item as { n: number }).n);
      assert.deepEqual(numbers(await replayedTo(byCount, 'kept.item')), [1, 2]);
      // Each message encodes to more than 200 bytes, so 400 bytes keep the newest one.
      assert.deepEqual(numbers(await replayedTo(byBytes, 'kept.item')), [2]);
      await sleep(60);
      assert.deepEqual(await replayedTo(byAge, 'kept.item'), []);
      assert.deepEqual(await replayedTo(none, 'kept.item'), []);
    } finally {
      for (const bus of buses) {
        await bus.stop();
      }
    }
  });
});

void describe('InProcessBus limits', () => {
  void test('full group rejects with backpressure', async () => {
    const bus = new InProcessBus(silentLogger(), { maxPendingPerGroup: 3 });
    await bus.start();
    try {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const seen: unknown[] = [];
      await bus.subscribe({
        subject: 'queue.*',
        group: 'slow',
        handler: async (message) => {
          seen.push(message.data);
          await gate;
        },
      });
      const other: unknown[] = [];
      await bus.subscribe({
        subject: 'queue.*',
        group: 'fast',
        handler: (message) => void other.push(message.data),
      });
      for (let n = 0; n < 3; n += 1) {
        await bus.publish('queue.item', n);
      }
      await assert.rejects(bus.publish('queue.item', 3), (error: unknown) => {
        hasCode('BUS_BACKPRESSURE')(error);
        return true;
      });
      await bus.publish('unrelated.subject', 'accepted');

      release();
      await waitFor('slow group drained', () => seen.length === 3);
      await sleep(20);
      await bus.publish('queue.item', 4);
      await waitFor('delivery after drain', () => seen.length === 4);
      assert.deepEqual(seen, [0, 1, 2, 4]);
      assert.deepEqual(other, [0, 1, 2, 4]);
    } finally {
      await bus.stop();
    }
  });

  void test('duplicate window expires msgId', async () => {
    const bus = new InProcessBus(silentLogger(), { duplicateWindowMs: 100 });
    await bus.start();
    try {
      const seen: unknown[] = [];
      await bus.subscribe({
        subject: 'd.x',
        group: 'd',
        handler: (message) => void seen.push(message.data),
      });
      await bus.publish('d.x', 1, { msgId: 'same' });
      await bus.publish('d.x', 2, { msgId: 'same' });
      await sleep(150);
      await bus.publish('d.x', 3, { msgId: 'same' });
      await waitFor('two deliveries', () => seen.length === 2);
      await sleep(50);
      assert.deepEqual(seen, [1, 3]);
    } finally {
      await bus.stop();
    }
  });

  void test('handler mutation stays local', async () => {
    const bus = new InProcessBus(silentLogger());
    await bus.start();
    try {
      const seen: unknown[] = [];
      const mutate = (message: { data: unknown }) => {
        (message.data as { n: number }).n += 100;
        seen.push(message.data);
      };
      await bus.subscribe({ subject: 'm.x', group: 'one', handler: mutate });
      await bus.subscribe({ subject: 'm.x', group: 'two', handler: mutate });
      const data = { n: 1 };
      await bus.publish('m.x', data);
      await waitFor('two deliveries', () => seen.length === 2);
      assert.deepEqual(seen, [{ n: 101 }, { n: 101 }]);
      assert.deepEqual(data, { n: 1 });
    } finally {
      await bus.stop();
    }
  });

  void test('factory picks in-process bus', () => {
    const bus = createEventBus({ kind: 'in-process' }, silentLogger());
    assert.ok(bus instanceof InProcessBus);
  });
});
