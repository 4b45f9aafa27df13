import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { isMedwardError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import { capturingLogger } from '../../support/logger.js';
import type { BusMessage, EventBus, SubscribeOptions } from '../../../src/core/bus/index.js';

export interface BusUnderTest {
  /** A started bus. */
  readonly bus: EventBus;
  /** Stops the bus and removes what the test created (for JetStream: the stream). */
  cleanup(): Promise<void>;
}

/** Returns a started bus, or undefined when the test was skipped (service not reachable). */
export type MakeBus = (t: TestContext, logger: Logger) => Promise<BusUnderTest | undefined>;

/** Behaviour that differs between implementations, with the reason for it. */
export interface BusContractTraits {
  /** Whether a group created after a publish still receives that message. */
  readonly newGroupSeesEarlierMessages: boolean;
  readonly reason: string;
}

export type CapturedLogger = ReturnType<typeof capturingLogger>;

/** Creates a debug-level logger whose JSON lines are kept in memory for assertions. */
export const captureLogger = capturingLogger;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 10 ms and fails naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(10);
  }
}

export function hasCode(code: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(isMedwardError(error), `expected a MedwardError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

interface Received {
  readonly message: BusMessage;
  readonly atMs: number;
  readonly member: string;
}

/** Subscribes and records every delivery. `behaviour` decides what the handler does after recording. */
async function record(
  bus: EventBus,
  options: Omit<SubscribeOptions, 'handler'>,
  received: Received[],
  behaviour: (message: BusMessage) => Promise<void> | void = () => undefined,
  member = 'member',
) {
  return bus.subscribe({
    ...options,
    handler: async (message) => {
      received.push({ message, atMs: Date.now(), member });
      await behaviour(message);
    },
  });
}

const ackWaitMs = 300;
const testTimeoutMs = 20_000;

/** Runs the event bus contract against the implementation that `makeBus` creates. */
export function runBusContract(name: string, makeBus: MakeBus, traits: BusContractTraits): void {
  void describe(`${name} contract`, () => {
    async function withBus(
      t: TestContext,
      body: (bus: EventBus, captured: CapturedLogger) => Promise<void>,
    ): Promise<void> {
      const captured = captureLogger();
      const underTest = await makeBus(t, captured.logger);
      if (underTest === undefined) {
        return;
      }
      try {
        await body(underTest.bus, captured);
      } finally {
        await underTest.cleanup();
      }
    }

    void test('publish delivers message fields', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const received: Received[] = [];
        await record(bus, { subject: 'device.status', group: 'status', ackWaitMs }, received);
        const before = Date.now();
        await bus.publish(
          'device.status',
          { state: 'online', battery: 0.5, tags: ['ü', null] },
          { msgId: 'status-1', headers: { 'X-Trace': 'trace-1' } },
        );
        await bus.publish('device.status', 'second');
        await waitFor('two deliveries', () => received.length === 2);

        const first = received[0]!.message;
        assert.equal(first.id, 'status-1');
        assert.equal(first.subject, 'device.status');
        assert.deepEqual(first.data, { state: 'online', battery: 0.5, tags: ['ü', null] });
        assert.deepEqual(first.headers, { 'X-Trace': 'trace-1' });
        assert.equal(first.deliveryCount, 1);
        assert.ok(first.publishedAt instanceof Date);
        assert.ok(Math.abs(first.publishedAt.getTime() - before) < 5_000);

        const second = received[1]!.message;
        assert.equal(second.data, 'second');
        assert.equal(typeof second.id, 'string');
        assert.ok(second.id.length > 0);
        assert.notEqual(second.id, first.id);
        assert.deepEqual(second.headers, {});
      }),
    );

    void test('wildcards follow nats rules', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const star: Received[] = [];
        const tail: Received[] = [];
        const exact: Received[] = [];
        await record(bus, { subject: 'a.*.c', group: 'star', ackWaitMs }, star);
        await record(bus, { subject: 'a.>', group: 'tail', ackWaitMs }, tail);
        await record(bus, { subject: 'a.b', group: 'exact', ackWaitMs }, exact);
        for (const subject of ['a.b.c', 'a.x.c', 'a.b', 'a.b.c.d', 'b.b.c', 'a', 'a.c']) {
          await bus.publish(subject, subject);
        }
        await waitFor(
          'wildcard deliveries',
          () => star.length >= 2 && tail.length >= 5 && exact.length >= 1,
        );
        await sleep(200);

        const subjects = (list: Received[]) => list.map((entry) => entry.message.subject).sort();
        assert.deepEqual(subjects(star), ['a.b.c', 'a.x.c']);
        assert.deepEqual(subjects(tail), ['a.b', 'a.b.c', 'a.b.c.d', 'a.c', 'a.x.c']);
        assert.deepEqual(subjects(exact), ['a.b']);
      }),
    );

    void test('same group shares messages', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const received: Received[] = [];
        const slow = () => sleep(20);
        await record(bus, { subject: 'job.*', group: 'workers', ackWaitMs }, received, slow, 'one');
        await record(bus, { subject: 'job.*', group: 'workers', ackWaitMs }, received, slow, 'two');
        for (let n = 0; n < 20; n += 1) {
          await bus.publish('job.run', { n });
        }
        await waitFor('20 deliveries', () => received.length >= 20);
        await sleep(ackWaitMs + 200);

        const numbers = received.map((entry) => (entry.message.data as { n: number }).n);
        assert.equal(received.length, 20);
        assert.equal(new Set(numbers).size, 20);
        assert.ok(
          received.some((entry) => entry.member === 'one'),
          'member one received none',
        );
        assert.ok(
          received.some((entry) => entry.member === 'two'),
          'member two received none',
        );
      }),
    );

    void test('different groups each get all', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const audit: Received[] = [];
        const metrics: Received[] = [];
        await record(bus, { subject: 'job.*', group: 'audit', ackWaitMs }, audit);
        await record(bus, { subject: 'job.*', group: 'metrics', ackWaitMs }, metrics);
        for (let n = 0; n < 5; n += 1) {
          await bus.publish('job.run', { n });
        }
        await waitFor('5 deliveries per group', () => audit.length >= 5 && metrics.length >= 5);
        await sleep(200);

        const numbers = (list: Received[]) =>
          list.map((entry) => (entry.message.data as { n: number }).n);
        assert.deepEqual(numbers(audit), [0, 1, 2, 3, 4]);
        assert.deepEqual(numbers(metrics), [0, 1, 2, 3, 4]);
      }),
    );

    void test('resolved handler acks message', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const received: Received[] = [];
        await record(
          bus,
          { subject: 'ack.me', group: 'acker', ackWaitMs, backoffMs: [50] },
          received,
        );
        await bus.publish('ack.me', 1);
        await waitFor('first delivery', () => received.length === 1);
        await sleep(ackWaitMs * 3);

        assert.equal(received.length, 1);
      }),
    );

    void test('thrown handler redelivers with count', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const received: Received[] = [];
        const failTwice = (message: BusMessage) => {
          if (message.deliveryCount < 3) {
            throw new Error(`attempt ${message.deliveryCount} failed`);
          }
        };
        await record(
          bus,
          { subject: 'retry.me', group: 'retrier', ackWaitMs, backoffMs: [100, 150] },
          received,
          failTwice,
        );
        await bus.publish('retry.me', 'payload');
        await waitFor('three deliveries', () => received.length >= 3);
        await sleep(ackWaitMs + 300);

        assert.deepEqual(
          received.map((entry) => entry.message.deliveryCount),
          [1, 2, 3],
        );
        assert.ok(received.every((entry) => entry.message.data === 'payload'));
        assert.ok(received.every((entry) => entry.message.id === received[0]!.message.id));
        assert.ok(received[1]!.atMs - received[0]!.atMs >= 90, 'first back-off not applied');
        assert.ok(received[2]!.atMs - received[1]!.atMs >= 140, 'second back-off not applied');
      }),
    );

    void test('slow handler redelivers after ack wait', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const received: Received[] = [];
        let slowFinished = false;
        const slowFirst = async (message: BusMessage) => {
          if (message.deliveryCount === 1) {
            await sleep(ackWaitMs * 3);
            slowFinished = true;
          }
        };
        await record(
          bus,
          { subject: 'slow.job', group: 'slow', ackWaitMs, backoffMs: [50] },
          received,
          slowFirst,
        );
        await bus.publish('slow.job', 'payload');
        await waitFor('redelivery', () => received.length >= 2);
        await waitFor('slow handler end', () => slowFinished);
        await sleep(ackWaitMs + 200);

        assert.deepEqual(
          received.map((entry) => entry.message.deliveryCount),
          [1, 2],
        );
        const gapMs = received[1]!.atMs - received[0]!.atMs;
        assert.ok(gapMs >= ackWaitMs - 20, `redelivered after ${gapMs} ms, before the ack wait`);
      }),
    );

    void test('dead letter after max deliver', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus, captured) => {
        const dead: Received[] = [];
        const attempts: Received[] = [];
        await record(bus, { subject: 'deadletter.>', group: 'dead', ackWaitMs }, dead);
        await record(
          bus,
          { subject: 'order.created', group: 'failing', ackWaitMs, maxDeliver: 3, backoffMs: [20] },
          attempts,
          () => {
            throw new Error('database\nunavailable');
          },
        );
        await bus.publish(
          'order.created',
          { orderId: 7 },
          { msgId: 'order-7', headers: { 'X-Trace': 't7' } },
        );
        await waitFor('dead letter', () => dead.length >= 1);
        await sleep(ackWaitMs + 200);

        assert.deepEqual(
          attempts.map((entry) => entry.message.deliveryCount),
          [1, 2, 3],
        );
        assert.equal(dead.length, 1);
        const letter = dead[0]!.message;
        assert.equal(letter.subject, 'deadletter.order.created');
        assert.deepEqual(letter.data, { orderId: 7 });
        assert.equal(letter.headers['X-Trace'], 't7');
        assert.equal(letter.headers['Medward-Original-Subject'], 'order.created');
        assert.equal(letter.headers['Medward-Original-Id'], 'order-7');
        assert.equal(letter.headers['Medward-Group'], 'failing');
        assert.equal(letter.headers['Medward-Delivery-Count'], '3');
        assert.equal(
          letter.headers['Medward-Dead-Letter-Reason'],
          'handler failed: database unavailable',
        );

        const warning = captured.lines.find((line) => line.msg === 'message dead-lettered');
        assert.ok(warning, 'no dead-letter log line');
        assert.equal(warning.level, 40);
        assert.equal(warning.subject, 'order.created');
        assert.equal(warning.group, 'failing');
        assert.equal(warning.messageId, 'order-7');
      }),
    );

    void test('ack timeout dead letters too', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const dead: Received[] = [];
        const attempts: Received[] = [];
        await record(bus, { subject: 'deadletter.>', group: 'dead', ackWaitMs }, dead);
        await record(
          bus,
          { subject: 'hang.job', group: 'hanging', ackWaitMs: 200, maxDeliver: 2, backoffMs: [20] },
          attempts,
          () => sleep(600),
        );
        await bus.publish('hang.job', 'payload');
        await waitFor('dead letter', () => dead.length >= 1);

        assert.deepEqual(
          attempts.map((entry) => entry.message.deliveryCount),
          [1, 2],
        );
        assert.equal(
          dead[0]!.message.headers['Medward-Dead-Letter-Reason'],
          'ack wait of 200 ms exceeded',
        );
        assert.equal(dead[0]!.message.headers['Medward-Delivery-Count'], '2');
      }),
    );

    void test('msgId de-duplicates publishes', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const received: Received[] = [];
        await record(bus, { subject: 'dedup.*', group: 'dedup', ackWaitMs }, received);
        await bus.publish('dedup.a', { copy: 1 }, { msgId: 'm-1' });
        await bus.publish('dedup.a', { copy: 2 }, { msgId: 'm-1' });
        await bus.publish('dedup.a', { copy: 3 }, { msgId: 'm-2' });
        await waitFor('two deliveries', () => received.length >= 2);
        await sleep(300);

        assert.deepEqual(
          received.map((entry) => [entry.message.id, entry.message.data]),
          [
            ['m-1', { copy: 1 }],
            ['m-2', { copy: 3 }],
          ],
        );
      }),
    );

    void test('single member keeps subject order', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const received: Received[] = [];
        await record(bus, { subject: 'ordered.topic', group: 'ordered', ackWaitMs }, received);
        const expected: number[] = [];
        for (let n = 0; n < 40; n += 1) {
          expected.push(n);
          await bus.publish('ordered.topic', n);
        }
        await waitFor('40 deliveries', () => received.length >= 40);

        assert.deepEqual(
          received.map((entry) => entry.message.data),
          expected,
        );
      }),
    );

    void test('close waits for in-flight handler', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const received: Received[] = [];
        let release: () => void = () => undefined;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        let handlerDone = false;
        const subscription = await record(
          bus,
          { subject: 'close.me', group: 'closer', ackWaitMs: 5_000 },
          received,
          async () => {
            await gate;
            handlerDone = true;
          },
        );
        await bus.publish('close.me', 1);
        await waitFor('delivery', () => received.length === 1);

        let closed = false;
        const closing = subscription.close().then(() => {
          closed = true;
        });
        await sleep(150);
        assert.equal(closed, false, 'close resolved while a handler was running');
        release();
        await closing;
        assert.equal(handlerDone, true);

        await bus.publish('close.me', 2);
        await sleep(300);
        assert.equal(received.length, 1);
      }),
    );

    void test('invalid subjects rejected', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const badPublish = [
          '',
          'a..b',
          '.a',
          'a.',
          'a.*',
          'a.>',
          '>',
          'a b',
          'a\tb',
          'a*b',
          'deadletter.x',
          'x'.repeat(257),
        ];
        for (const subject of badPublish) {
          await assert.rejects(bus.publish(subject, 1), hasCode('BUS_INVALID_SUBJECT'), subject);
        }
        const badFilters = ['', 'a.>.b', 'a*', 'a.b>', 'a..b', 'a b'];
        for (const subject of badFilters) {
          await assert.rejects(
            bus.subscribe({ subject, group: 'bad', handler: () => undefined }),
            hasCode('BUS_INVALID_SUBJECT'),
            subject,
          );
        }
      }),
    );

    void test('oversized and non-JSON data rejected', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        await assert.rejects(
          bus.publish('big.blob', 'x'.repeat(1024 * 1024 + 1)),
          (error: unknown) => {
            hasCode('BUS_MESSAGE_TOO_LARGE')(error);
            assert.ok(isMedwardError(error));
            assert.equal(error.kind, 'too-large');
            return true;
          },
        );
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        const notJson: unknown[] = [
          undefined,
          1n,
          Number.NaN,
          Infinity,
          cyclic,
          new Date(0),
          () => 1,
          { a: undefined },
          [Symbol('s')],
          new Map(),
        ];
        for (const data of notJson) {
          await assert.rejects(bus.publish('bad.data', data), hasCode('BUS_INVALID_PAYLOAD'));
        }

        const received: Received[] = [];
        await record(bus, { subject: 'big.blob', group: 'blobs', ackWaitMs: 2_000 }, received);
        const large = 'y'.repeat(256 * 1024);
        await bus.publish('big.blob', { large });
        await waitFor('large delivery', () => received.length === 1);
        assert.deepEqual(received[0]!.message.data, { large });
      }),
    );

    void test('invalid headers rejected', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        const badHeaders: Record<string, string>[] = [
          { 'Nats-Msg-Id': 'x' },
          { 'medward-group': 'x' },
          { 'bad name': 'x' },
          { 'X-Ok': 'a\r\nInjected: 1' },
        ];
        for (const headers of badHeaders) {
          await assert.rejects(
            bus.publish('h.test', 1, { headers }),
            hasCode('BUS_INVALID_HEADER'),
          );
        }
      }),
    );

    void test('group subject mismatch rejected', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        await bus.subscribe({ subject: 'a.b', group: 'fixed', handler: () => undefined });
        await assert.rejects(
          bus.subscribe({ subject: 'a.c', group: 'fixed', handler: () => undefined }),
          hasCode('BUS_GROUP_SUBJECT_MISMATCH'),
        );
        await assert.rejects(
          bus.subscribe({ subject: 'a.b', group: 'bad.group', handler: () => undefined }),
          hasCode('BUS_INVALID_SUBSCRIPTION'),
        );
      }),
    );

    const earlierRule = traits.newGroupSeesEarlierMessages ? 'delivered' : 'not delivered';
    void test(`earlier message ${earlierRule} to new group`, { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        t.diagnostic(traits.reason);
        await bus.publish('late.topic', 1);
        const received: Received[] = [];
        await record(bus, { subject: 'late.topic', group: 'late', ackWaitMs }, received);
        await bus.publish('late.topic', 2);
        await waitFor('delivery of the later message', () =>
          received.some((entry) => entry.message.data === 2),
        );
        await sleep(200);

        const expected = traits.newGroupSeesEarlierMessages ? [1, 2] : [2];
        assert.deepEqual(
          received.map((entry) => entry.message.data),
          expected,
        );
      }),
    );

    void test('stopped bus rejects calls', { timeout: testTimeoutMs }, (t) =>
      withBus(t, async (bus) => {
        await bus.stop();
        await assert.rejects(bus.publish('a.b', 1), hasCode('BUS_NOT_RUNNING'));
        await assert.rejects(
          bus.subscribe({ subject: 'a.b', group: 'g', handler: () => undefined }),
          hasCode('BUS_NOT_RUNNING'),
        );
      }),
    );
  });
}
