/**
 * Random and mutated APDUs through live manager connections on 127.0.0.1:
 * no exception escapes the session, every case ends within a bound, and the
 * heap does not grow with the number of cases. MEDWARD_FUZZ_RUNS sets the
 * runs per property (default 150 here; each run is a TCP connection).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { createScenario } from '../../../src/ieee11073/index.js';
import { bytesOf, fixture } from '../support.js';
import {
  ApduClient,
  aarqBytes,
  answerMdsGet,
  capturingLogger,
  reportBytes,
  startManager,
  type LiveManager,
} from './support.js';

const runs = Number(process.env.MEDWARD_FUZZ_RUNS ?? 150);
/** Upper bound on one property's run time, whatever the run count. */
const propertyTimeLimitMs = 120000;
/** Time a case waits for the manager's reaction before it closes the connection. */
const quietMs = 40;

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

type Mutation =
  | { kind: 'flip'; index: number; value: number }
  | { kind: 'truncate'; length: number }
  | { kind: 'insert'; index: number; bytes: Uint8Array }
  | { kind: 'length'; index: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    index: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    index: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  // Length fields sit at even offsets from 2 on; a random u16 there hits them often.
  fc.record({
    kind: fc.constant('length' as const),
    index: fc.nat(),
    value: fc.integer({ min: 0, max: 0xffff }),
  }),
);

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const change of mutations) {
    if (out.byteLength === 0) {
      break;
    }
    switch (change.kind) {
      case 'flip':
        out[change.index % out.byteLength] = change.value;
        break;
      case 'truncate':
        out = out.slice(0, change.length % (out.byteLength + 1));
        break;
      case 'insert': {
        const at = change.index % (out.byteLength + 1);
        out = Uint8Array.from([...out.subarray(0, at), ...change.bytes, ...out.subarray(at)]);
        break;
      }
      case 'length': {
        const at = (change.index % Math.max(1, out.byteLength >> 1)) * 2;
        if (at + 1 < out.byteLength) {
          out[at] = change.value >> 8;
          out[at + 1] = change.value & 0xff;
        }
        break;
      }
    }
  }
  return out;
}

/** Agent-to-manager APDUs of the fixture and the simulator, the seeds of mutation. */
const seeds: Uint8Array[] = [
  ...fixture.vectors
    .filter(
      (vector) =>
        vector.kind.startsWith('PRST roiv') || ['RLRQ', 'ABRT', 'AARQ'].includes(vector.kind),
    )
    .map((vector) => bytesOf(vector.hex)),
  ...fixture.malformed.map((vector) => bytesOf(vector.hex)),
  ...(['pulseox', 'bpm', 'scale', 'glucose'] as const).map((kind) => {
    const measurement = createScenario(kind).measurement(1, new Date());
    return reportBytes(1, measurement.eventType, measurement.eventInfo);
  }),
];

/** Random bytes, some behind a valid APDU CHOICE tag so they get past the first check. */
const randomApdu: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .tuple(fc.constantFrom(0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7), fc.uint8Array({ maxLength: 300 }))
    .map(([tag, body]) =>
      Uint8Array.from([tag, 0x00, body.byteLength >> 8, body.byteLength & 0xff, ...body]),
    ),
);

describe('ieee11073 manager live fuzz', () => {
  let live: LiveManager;
  const captured = capturingLogger();

  before(async () => {
    live = await startManager({ logger: captured.logger });
  });

  after(async () => {
    await live.stop();
  });

  /** Sends one case and waits for a reaction, the close or the quiet period; bounded in time. */
  async function playCase(client: ApduClient, bytes: Uint8Array): Promise<void> {
    const before = client.received.length;
    client.send(bytes);
    await client.waitUntil(() => client.closed || client.received.length > before, quietMs);
    client.close();
  }

  test('random bytes on fresh connections', async () => {
    await fc.assert(
      fc.asyncProperty(randomApdu, async (bytes) => {
        const client = await ApduClient.connect(live.port);
        await playCase(client, bytes);
      }),
      { numRuns: runs, plugins: [fc.interruptAfterTimeLimit(propertyTimeLimitMs)] },
    );
  });

  test('mutated apdus while operating', async () => {
    let systemId = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...seeds),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        async (seed, mutations) => {
          systemId += 1;
          const id = Buffer.alloc(8);
          id.writeUInt32BE(0xf0f0f0f0, 0);
          id.writeUInt32BE(systemId, 4);
          const client = await ApduClient.connect(live.port);
          client.send(aarqBytes({ devConfigId: 0x02bc, systemId: new Uint8Array(id) }));
          await client.next('aare');
          await answerMdsGet(client);
          await playCase(client, mutate(seed, mutations));
        },
      ),
      { numRuns: runs, plugins: [fc.interruptAfterTimeLimit(propertyTimeLimitMs)] },
    );
  });

  test('no session failed and heap bounded', async () => {
    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...seeds),
        fc.array(mutation, { maxLength: 3 }),
        async (seed, mutations) => {
          const client = await ApduClient.connect(live.port);
          await playCase(client, mutate(seed, mutations));
        },
      ),
      { numRuns: runs, plugins: [fc.interruptAfterTimeLimit(propertyTimeLimitMs)] },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    collectGarbage();
    const growthBytes = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(
      growthBytes < 32 * 1024 * 1024,
      `heap grew by ${growthBytes} bytes over ${runs} cases`,
    );
    const failures = captured.lines.filter((line) => line.msg === 'ieee11073 session failed');
    assert.deepEqual(failures, []);
    // The manager still serves a well-behaved agent.
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x02bc, systemId: new Uint8Array(8).fill(0xee) }));
    const aare = await client.next('aare');
    assert.equal(aare.kind, 'aare');
    client.close();
  });
});
