import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requireService } from '../../support/services.js';
import {
  ASSOCIATION_SUBJECTS,
  AssociateResult,
  AssociationBits,
  MdcObject,
  encodeApdu,
  type Ava,
} from '../../../src/ieee11073/index.js';
import {
  ApduClient,
  aarqBytes,
  answerMdsGet,
  messageOf,
  prstBytes,
  startManager,
  systemModelAttributes,
  type LiveManager,
} from './support.js';

interface ReceivedEvent {
  subject: string;
  data: Record<string, unknown>;
  /** `mds_json` of the association row when the event arrived. */
  storedMdsJson: string | null | undefined;
  /** `ended_at_ms` of the association row when the event arrived. */
  storedEndedAtMs: number | null | undefined;
}

const text = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, 'latin1'));

const mdsAttributes: Ava[] = [
  ...systemModelAttributes('Acme', 'BP-7'),
  {
    attributeId: MdcObject.MDC_ATTR_ID_PROD_SPECN,
    value: {
      kind: 'production-spec',
      value: [{ specType: 1, componentId: 0, prodSpec: text('SN-0042') }],
    },
  },
];

describe('ieee11073 association events', () => {
  let live: LiveManager;
  const events: ReceivedEvent[] = [];

  before(async () => {
    live = await startManager({ config: { timeouts: { confirmedRequestMs: 500 } } });
    await live.bus.subscribe({
      subject: ASSOCIATION_SUBJECTS,
      group: 'association-events-test',
      handler: async (message) => {
        const data = message.data as Record<string, unknown>;
        const row = await live.manager.repository.getAssociation(String(data.associationId));
        events.push({
          subject: message.subject,
          data,
          storedMdsJson: row?.mds_json,
          storedEndedAtMs: row?.ended_at_ms,
        });
      },
    });
  });

  after(async () => {
    await live.stop();
  });

  function eventsOf(systemId: string, subject?: string): ReceivedEvent[] {
    return events.filter(
      (event) =>
        event.data.systemId === systemId && (subject === undefined || event.subject === subject),
    );
  }

  async function eventOf(subject: string, systemId: string): Promise<ReceivedEvent> {
    const deadline = Date.now() + 3000;
    for (;;) {
      const found = events.find(
        (event) => event.subject === subject && event.data.systemId === systemId,
      );
      if (found !== undefined) {
        return found;
      }
      if (Date.now() > deadline) {
        throw new Error(`no ${subject} event of ${systemId} within 3000 ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function associateClient(systemIdByte: number, devConfigId = 0x02bc): Promise<ApduClient> {
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId, systemId: new Uint8Array(8).fill(systemIdByte) }));
    const aare = await client.next('aare');
    assert.equal(aare.kind === 'aare' && aare.result, AssociateResult.accepted);
    return client;
  }

  test('operating event follows the mds commit', async () => {
    const client = await associateClient(0x21);
    await answerMdsGet(client, mdsAttributes);
    const event = await eventOf('ieee11073.association.operating', '2121212121212121');
    assert.equal(typeof event.data.associationId, 'string');
    assert.equal(event.data.devConfigId, 0x02bc);
    assert.match(String(event.data.startedAt), /^\d{4}-\d{2}-\d{2}T.*Z$/);
    // dev-config-id 0x02bc is a standard configuration of the blood pressure monitor.
    assert.deepEqual(event.data.specializations, [{ code: 8 * 65536 + 4103 }]);
    const mds = event.data.mds as Record<string, unknown>;
    assert.equal(mds.manufacturer, 'Acme');
    assert.equal(mds.modelNumber, 'BP-7');
    assert.deepEqual(mds.productionSpecification, [
      { specType: 1, componentId: 0, value: 'SN-0042' },
    ]);
    assert.equal(mds.timeSet, false);
    assert.notEqual(event.storedMdsJson, null);
    assert.notEqual(event.storedMdsJson, undefined);
    client.send(encodeApdu({ kind: 'rlrq', reason: 0 }));
    await client.next('rlre');
    client.close();
  });

  test('spec list names the specializations', async () => {
    const client = await associateClient(0x29);
    await answerMdsGet(client, [
      {
        attributeId: MdcObject.MDC_ATTR_SYS_TYPE_SPEC_LIST,
        value: {
          kind: 'type-ver-list',
          value: [
            { type: 4111, version: 2 },
            { type: 4103, version: 1 },
          ],
        },
      },
    ]);
    const event = await eventOf('ieee11073.association.operating', '2929292929292929');
    // The list wins over the blood pressure monitor of dev-config-id 0x02bc.
    assert.deepEqual(event.data.specializations, [
      { code: 8 * 65536 + 4111, version: 2 },
      { code: 8 * 65536 + 4103, version: 1 },
    ]);
    const stored = JSON.parse(String(event.storedMdsJson)) as Record<string, unknown>;
    assert.deepEqual(stored.systemTypeSpecList, [
      { type: 4111, version: 2 },
      { type: 4103, version: 1 },
    ]);
    client.close();
  });

  test('ended event follows the end commit', async () => {
    const client = await associateClient(0x22);
    await answerMdsGet(client);
    const operating = await eventOf('ieee11073.association.operating', '2222222222222222');
    client.send(encodeApdu({ kind: 'rlrq', reason: 0 }));
    await client.next('rlre');
    const ended = await eventOf('ieee11073.association.ended', '2222222222222222');
    assert.equal(ended.data.associationId, operating.data.associationId);
    assert.equal(ended.data.endReason, 'released by agent');
    assert.equal(ended.data.startedAt, operating.data.startedAt);
    assert.ok(Date.parse(String(ended.data.endedAt)) >= Date.parse(String(ended.data.startedAt)));
    assert.equal(typeof ended.storedEndedAtMs, 'number');
    client.close();
  });

  test('release racing mds commit keeps order', async () => {
    const client = await associateClient(0x28);
    const get = messageOf(await client.next('prst'));
    // The GET response and the RLRQ in one segment: the end is stored before the MDS facts.
    client.send(
      Buffer.concat([
        prstBytes(get.invokeId, {
          kind: 'rors-get',
          objHandle: 0,
          attributeList: mdsAttributes,
        }),
        encodeApdu({ kind: 'rlrq', reason: 0 }),
      ]),
    );
    await client.next('rlre');
    await eventOf('ieee11073.association.ended', '2828282828282828');
    const subjects = eventsOf('2828282828282828').map((event) => event.subject);
    assert.deepEqual(subjects, ['ieee11073.association.operating', 'ieee11073.association.ended']);
    client.close();
  });

  test('rejected mds get still operating', async () => {
    const client = await associateClient(0x23);
    const get = messageOf(await client.next('prst'));
    assert.equal(get.message.kind, 'roiv-get');
    client.send(prstBytes(get.invokeId, { kind: 'rorj', problem: 0 }));
    const event = await eventOf('ieee11073.association.operating', '2323232323232323');
    assert.equal(event.data.mds, null);
    assert.deepEqual(event.data.specializations, [{ code: 8 * 65536 + 4103 }]);
    client.close();
    const ended = await eventOf('ieee11073.association.ended', '2323232323232323');
    assert.equal(ended.data.endReason, 'connection closed');
  });

  test('unanswered mds get ends without operating', async () => {
    await associateClient(0x24);
    const ended = await eventOf('ieee11073.association.ended', '2424242424242424');
    assert.match(String(ended.data.endReason), /^aborted by manager: mds get timed out/);
    assert.equal(eventsOf('2424242424242424', 'ieee11073.association.operating').length, 0);
  });

  test('unconfigured association ends only', async () => {
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x4000, systemId: new Uint8Array(8).fill(0x25) }));
    const aare = await client.next('aare');
    assert.equal(aare.kind === 'aare' && aare.result, AssociateResult.acceptedUnknownConfig);
    client.close();
    const ended = await eventOf('ieee11073.association.ended', '2525252525252525');
    assert.equal(ended.data.devConfigId, 0x4000);
    assert.equal(ended.data.endReason, 'connection closed');
    assert.equal(eventsOf('2525252525252525', 'ieee11073.association.operating').length, 0);
  });

  test('rejected aarq publishes nothing', async () => {
    const client = await ApduClient.connect(live.port);
    client.send(
      aarqBytes({
        systemType: AssociationBits.systemTypeManager,
        systemId: new Uint8Array(8).fill(0x26),
      }),
    );
    const aare = await client.next('aare');
    assert.equal(aare.kind === 'aare' && aare.result, AssociateResult.rejectedPermanent);
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(eventsOf('2626262626262626').length, 0);
  });
});

describe('ieee11073 association events on postgres', () => {
  test('operating and ended events published', async (t) => {
    if (!(await requireService(t, 'postgres'))) {
      return;
    }
    const live = await startManager({ dialect: 'postgres' });
    try {
      const subjects: string[] = [];
      const rows: (string | null | undefined)[] = [];
      await live.bus.subscribe({
        subject: ASSOCIATION_SUBJECTS,
        group: 'association-events-postgres',
        handler: async (message) => {
          const data = message.data as Record<string, unknown>;
          const row = await live.manager.repository.getAssociation(String(data.associationId));
          subjects.push(message.subject);
          rows.push(row?.mds_json);
        },
      });
      const client = await ApduClient.connect(live.port);
      client.send(aarqBytes({ systemId: new Uint8Array(8).fill(0x27) }));
      await client.next('aare');
      await answerMdsGet(client, mdsAttributes);
      client.send(encodeApdu({ kind: 'rlrq', reason: 0 }));
      await client.next('rlre');
      client.close();
      const deadline = Date.now() + 3000;
      while (subjects.length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(subjects, [
        'ieee11073.association.operating',
        'ieee11073.association.ended',
      ]);
      assert.match(String(rows[0]), /productionSpecification/);
    } finally {
      await live.stop();
    }
  });
});
