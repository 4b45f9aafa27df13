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
    newGroupSeesEarlierMessages: false,
    reason:
      'the in-process bus keeps no stream, so a group sees messages published after its first subscribe',
  },
);

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
