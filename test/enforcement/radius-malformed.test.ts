import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../src/core/logger.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import { requireCidr } from '../../src/enforcement/address.js';
import { encodeSignedAccessRequest } from '../../src/enforcement/radius/authenticator.js';
import {
  RadiusAttribute,
  RadiusParseError,
  parseRadiusPacket,
  vlanAttributes,
  type RadiusParseFailure,
} from '../../src/enforcement/radius/packet.js';
import { RadiusServer } from '../../src/enforcement/radius/server.js';

const key = Buffer.from('testing-secret-123');
const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const header = (code: number, length: number) => {
  const bytes = Buffer.alloc(20);
  bytes.writeUInt8(code, 0);
  bytes.writeUInt8(1, 1);
  bytes.writeUInt16BE(length, 2);
  return bytes;
};
const withLength = (bytes: Buffer) => {
  bytes.writeUInt16BE(bytes.length, 2);
  return bytes;
};

const malformed: { name: string; bytes: Buffer; failure: RadiusParseFailure }[] = [
  { name: 'empty datagram', bytes: Buffer.alloc(0), failure: 'too-short' },
  { name: '19-octet header', bytes: Buffer.alloc(19, 1), failure: 'too-short' },
  { name: 'Length below 20', bytes: header(1, 19), failure: 'too-long' },
  {
    name: 'Length above 4096',
    bytes: Buffer.concat([header(1, 4097), Buffer.alloc(4077)]),
    failure: 'too-long',
  },
  { name: 'Length beyond datagram', bytes: header(1, 40), failure: 'length-mismatch' },
  { name: 'unknown code 99', bytes: header(99, 20), failure: 'unknown-code' },
  {
    name: 'attribute length 0',
    bytes: withLength(Buffer.concat([header(1, 0), hex('0100')])),
    failure: 'attribute-length',
  },
  {
    name: 'attribute length 2',
    bytes: withLength(Buffer.concat([header(1, 0), hex('0102')])),
    failure: 'attribute-length',
  },
  {
    name: 'attribute past Length',
    bytes: withLength(Buffer.concat([header(1, 0), hex('010a6e656d6f')])),
    failure: 'attribute-overrun',
  },
  {
    name: 'lone type octet',
    bytes: withLength(Buffer.concat([header(1, 0), hex('01')])),
    failure: 'attribute-overrun',
  },
  {
    name: 'short Message-Authenticator',
    bytes: withLength(Buffer.concat([header(1, 0), hex('5010'), Buffer.alloc(14)])),
    failure: 'message-authenticator-length',
  },
  {
    name: 'two Message-Authenticators',
    bytes: withLength(
      Buffer.concat([header(1, 0), hex('5012'), Buffer.alloc(16), hex('5012'), Buffer.alloc(16)]),
    ),
    failure: 'message-authenticator-repeated',
  },
];

describe('RADIUS malformed input', () => {
  for (const { name, bytes, failure } of malformed) {
    test(`parser rejects ${name}`, () => {
      assert.throws(
        () => parseRadiusPacket(bytes),
        (error: unknown) => {
          assert.ok(error instanceof RadiusParseError);
          assert.equal(error.failure, failure);
          return true;
        },
      );
    });
  }

  test('padding after Length ignored', () => {
    const packet = withLength(Buffer.concat([header(1, 0), hex('01066e656d6f')]));
    const parsed = parseRadiusPacket(Buffer.concat([packet, Buffer.alloc(10, 0xff)]));
    assert.equal(parsed.raw.length, 26);
    assert.equal(parsed.attributes.length, 1);
  });
});

describe('RADIUS server drops', () => {
  const metrics = createMetricsRegistry({ defaultMetrics: false });
  let server: RadiusServer;
  let strangerServer: RadiusServer;
  let decisions = 0;

  before(async () => {
    const options = {
      host: '127.0.0.1',
      port: 0,
      duplicateWindowMs: 5000,
      logger: silentLogger(),
      authorize: () => {
        decisions += 1;
        return { decision: 'accept' as const, attributes: vlanAttributes(100 + decisions) };
      },
    };
    server = new RadiusServer({
      ...options,
      metrics,
      clients: [
        {
          name: 'switch',
          network: requireCidr('127.0.0.1/32', 'test'),
          secret: key,
          coaPort: 3799,
          coaMode: 'coa',
        },
      ],
    });
    strangerServer = new RadiusServer({
      ...options,
      metrics: createMetricsRegistry({ defaultMetrics: false }),
      clients: [
        {
          name: 'other',
          network: requireCidr('127.0.0.2/32', 'test'),
          secret: key,
          coaPort: 3799,
          coaMode: 'coa',
        },
      ],
    });
    await server.start();
    await strangerServer.start();
  });

  after(async () => {
    await server.stop();
    await strangerServer.stop();
  });

  /** Sends datagrams from one socket and collects the responses for 150 ms. */
  async function exchange(port: number, datagrams: readonly Buffer[]): Promise<Buffer[]> {
    const socket = createSocket('udp4');
    const answers: Buffer[] = [];
    socket.on('message', (message) => answers.push(message));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    for (const datagram of datagrams) {
      socket.send(datagram, port, '127.0.0.1');
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    socket.close();
    return answers;
  }

  async function droppedCount(reason: string): Promise<number> {
    const metric = await metrics.getSingleMetric('medward_radius_dropped_total')!.get();
    return metric.values.find((value) => value.labels.reason === reason)?.value ?? 0;
  }

  test('malformed datagrams get no answer', async () => {
    const answers = await exchange(
      server.address.port,
      malformed.map((item) => item.bytes),
    );
    assert.equal(answers.length, 0);
    assert.equal(await droppedCount('attribute-length'), 2);
    assert.equal(await droppedCount('too-short'), 2);
    assert.equal(await droppedCount('unknown-code'), 1);
  });

  test('missing Message-Authenticator dropped', async () => {
    const request = withLength(Buffer.concat([header(1, 0), hex('01066e656d6f')]));
    assert.equal((await exchange(server.address.port, [request])).length, 0);
    assert.equal(await droppedCount('missing-message-authenticator'), 1);
  });

  test('wrong secret dropped', async () => {
    const request = encodeSignedAccessRequest(
      5,
      [{ type: RadiusAttribute.UserName, value: Buffer.from('x') }],
      Buffer.from('other-secret-456'),
    );
    assert.equal((await exchange(server.address.port, [request])).length, 0);
    assert.equal(await droppedCount('bad-message-authenticator'), 1);
  });

  test('unknown client dropped', async () => {
    const request = encodeSignedAccessRequest(
      5,
      [{ type: RadiusAttribute.UserName, value: Buffer.from('x') }],
      key,
    );
    assert.equal((await exchange(strangerServer.address.port, [request])).length, 0);
  });

  test('oversized attribute dropped', async () => {
    const request = encodeSignedAccessRequest(
      6,
      [{ type: RadiusAttribute.UserName, value: Buffer.alloc(200, 0x61) }],
      key,
    );
    // Claim 255 octets for an attribute that has 202, so it runs past Length.
    request.writeUInt8(255, 21);
    const before = await droppedCount('attribute-overrun');
    assert.equal((await exchange(server.address.port, [request])).length, 0);
    assert.equal(await droppedCount('attribute-overrun'), before + 1);
  });

  test('retransmission gets cached answer', async () => {
    const before = decisions;
    const request = encodeSignedAccessRequest(
      9,
      [{ type: RadiusAttribute.UserName, value: Buffer.from('dup') }],
      key,
    );
    const answers = await exchange(server.address.port, [request, request]);
    assert.equal(answers.length, 2);
    assert.deepEqual(answers[0], answers[1]);
    assert.equal(decisions, before + 1);
  });

  test('reused identifier, new authenticator answered', async () => {
    const before = decisions;
    const first = encodeSignedAccessRequest(
      11,
      [{ type: RadiusAttribute.UserName, value: Buffer.from('a') }],
      key,
    );
    const second = encodeSignedAccessRequest(
      11,
      [{ type: RadiusAttribute.UserName, value: Buffer.from('a') }],
      key,
    );
    const answers = await exchange(server.address.port, [first, second]);
    assert.equal(answers.length, 2);
    assert.equal(decisions, before + 2);
    assert.notDeepEqual(answers[0], answers[1]);
  });
});
