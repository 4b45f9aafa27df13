import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decryptUserPassword,
  encodeSignedAccessRequest,
  encodeSignedResponse,
  encryptUserPassword,
  verifyChapPassword,
  verifyMessageAuthenticator,
  verifyResponseAuthenticator,
} from '../../src/enforcement/radius/authenticator.js';
import {
  RadiusAttribute,
  RadiusCode,
  RadiusParseError,
  encodeRadiusPacket,
  findAttribute,
  parseRadiusPacket,
  readVlan,
  vlanAttributes,
} from '../../src/enforcement/radius/packet.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// RFC 2865 §7.1: Access-Request for user "nemo", password "arctangent", secret "xyzzy5461",
// and the Access-Accept the server sends back.
const rfcRequest = hex(`01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
  98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d 93 d4 13 ce 31 96 e4 3f
  78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03`);
const rfcAccept = hex(`02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
  9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00 0e 06 c0 a8 01 03`);
const rfcSecret = Buffer.from('xyzzy5461');

describe('RADIUS packet vectors', () => {
  test('RFC 2865 request parses', () => {
    const packet = parseRadiusPacket(rfcRequest);
    assert.equal(packet.code, RadiusCode.AccessRequest);
    assert.equal(packet.identifier, 0);
    assert.equal(packet.attributes.length, 4);
    assert.equal(findAttribute(packet, RadiusAttribute.UserName)?.toString(), 'nemo');
    assert.deepEqual(findAttribute(packet, RadiusAttribute.NasIpAddress), hex('c0a80110'));
    assert.equal(findAttribute(packet, RadiusAttribute.NasPort)?.readUInt32BE(0), 3);
  });

  test('RFC 2865 User-Password decrypts', () => {
    const packet = parseRadiusPacket(rfcRequest);
    const hidden = findAttribute(packet, RadiusAttribute.UserPassword)!;
    const clear = decryptUserPassword(hidden, rfcSecret, packet.authenticator);
    assert.equal(clear?.toString(), 'arctangent');
    assert.deepEqual(
      encryptUserPassword(Buffer.from('arctangent'), rfcSecret, packet.authenticator),
      hidden,
    );
  });

  test('RFC 2865 response authenticator', () => {
    const request = parseRadiusPacket(rfcRequest);
    const accept = parseRadiusPacket(rfcAccept);
    assert.ok(verifyResponseAuthenticator(accept, rfcSecret, request.authenticator));
    assert.ok(!verifyResponseAuthenticator(accept, Buffer.from('wrong'), request.authenticator));
  });

  test('signed response verifies both authenticators', () => {
    const request = parseRadiusPacket(rfcRequest);
    const response = parseRadiusPacket(
      encodeSignedResponse(RadiusCode.AccessAccept, request, vlanAttributes(100), rfcSecret),
    );
    assert.ok(verifyResponseAuthenticator(response, rfcSecret, request.authenticator));
    assert.ok(verifyMessageAuthenticator(response, rfcSecret, request.authenticator));
    assert.equal(readVlan(response), 100);
    // Tunnel-Type: tag 0, VLAN (13); Tunnel-Medium-Type: tag 0, IEEE-802 (6).
    assert.deepEqual(findAttribute(response, RadiusAttribute.TunnelType), hex('0000000d'));
    assert.deepEqual(findAttribute(response, RadiusAttribute.TunnelMediumType), hex('00000006'));
    assert.deepEqual(
      findAttribute(response, RadiusAttribute.TunnelPrivateGroupId),
      Buffer.from('100'),
    );
  });

  test('Message-Authenticator matches HMAC-MD5', () => {
    const authenticator = hex('0f403f9473978057bd83d5cb98f4227a');
    const packet = encodeSignedAccessRequest(
      9,
      [{ type: RadiusAttribute.UserName, value: Buffer.from('nemo') }],
      rfcSecret,
      authenticator,
    );
    // Header 20 + User-Name 6 + Message-Authenticator 18.
    assert.equal(packet.length, 44);
    assert.deepEqual(packet.subarray(26, 28), hex('5012'));
    const zeroed = Buffer.from(packet);
    zeroed.fill(0, 28, 44);
    const expected = createHmac('md5', rfcSecret).update(zeroed).digest();
    assert.deepEqual(packet.subarray(28, 44), expected);
    assert.ok(verifyMessageAuthenticator(parseRadiusPacket(packet), rfcSecret));
    assert.ok(!verifyMessageAuthenticator(parseRadiusPacket(packet), Buffer.from('xyzzy5462')));
  });

  test('CHAP-Password verifies', () => {
    const challenge = hex('00112233445566778899aabbccddeeff');
    const response = createHash('md5')
      .update(Buffer.from([7]))
      .update('secret-pw')
      .update(challenge)
      .digest();
    const chap = Buffer.concat([Buffer.from([7]), response]);
    assert.ok(verifyChapPassword(chap, Buffer.from('secret-pw'), challenge));
    assert.ok(!verifyChapPassword(chap, Buffer.from('other'), challenge));
    assert.ok(!verifyChapPassword(chap.subarray(0, 16), Buffer.from('secret-pw'), challenge));
  });
});

describe('RADIUS packet properties', () => {
  test('parser throws only RadiusParseError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4200 }), (bytes) => {
        try {
          parseRadiusPacket(bytes);
        } catch (error) {
          assert.ok(error instanceof RadiusParseError, String(error));
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('parser rejects header-shaped noise', () => {
    const noisy = fc
      .tuple(
        fc.constantFrom(1, 2, 3, 43),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ maxLength: 300 }),
      )
      .map(([code, id, auth, body]) => {
        const packet = Buffer.concat([Buffer.from([code, id, 0, 0]), auth, body]);
        packet.writeUInt16BE(packet.length, 2);
        return packet;
      });
    fc.assert(
      fc.property(noisy, (bytes) => {
        let parsed;
        try {
          parsed = parseRadiusPacket(bytes);
        } catch (error) {
          assert.ok(error instanceof RadiusParseError);
          return;
        }
        const total = parsed.attributes.reduce(
          (sum, attribute) => sum + attribute.value.length + 2,
          20,
        );
        assert.equal(total, bytes.length);
        for (const attribute of parsed.attributes) {
          assert.ok(attribute.value.length >= 1);
          assert.ok(attribute.value.length <= 253);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('encode then parse round-trips', () => {
    const attribute = fc.record({
      type: fc
        .integer({ min: 1, max: 255 })
        .filter((type) => type !== RadiusAttribute.MessageAuthenticator),
      value: fc.uint8Array({ minLength: 1, maxLength: 253 }).map((bytes) => Buffer.from(bytes)),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.array(attribute, { maxLength: 15 }),
        (identifier, authenticator, attributes) => {
          const bytes = encodeRadiusPacket(
            RadiusCode.AccessRequest,
            identifier,
            Buffer.from(authenticator),
            attributes,
          );
          const parsed = parseRadiusPacket(bytes);
          assert.equal(parsed.identifier, identifier);
          assert.deepEqual(parsed.authenticator, Buffer.from(authenticator));
          assert.deepEqual(
            parsed.attributes.map((a) => ({ type: a.type, value: Buffer.from(a.value) })),
            attributes.map((a) => ({ type: a.type, value: a.value })),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  test('any flipped octet breaks the request', () => {
    const secretKey = Buffer.from('testing-secret-123');
    const request = encodeSignedAccessRequest(
      3,
      [
        { type: RadiusAttribute.UserName, value: Buffer.from('020000c0ffee') },
        { type: RadiusAttribute.NasPortType, value: hex('0000000f') },
      ],
      secretKey,
    );
    assert.ok(verifyMessageAuthenticator(parseRadiusPacket(request), secretKey));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: request.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (index, mask) => {
          const tampered = Buffer.from(request);
          tampered[index] = tampered[index]! ^ mask;
          let packet;
          try {
            packet = parseRadiusPacket(tampered);
          } catch {
            return;
          }
          assert.ok(!verifyMessageAuthenticator(packet, secretKey));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('User-Password round-trips', () => {
    fc.assert(
      fc.property(
        fc
          .uint8Array({ minLength: 1, maxLength: 128 })
          .filter((bytes) => bytes[bytes.length - 1] !== 0),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (password, key, authenticator) => {
          const hidden = encryptUserPassword(
            Buffer.from(password),
            Buffer.from(key),
            Buffer.from(authenticator),
          );
          assert.equal(hidden.length % 16, 0);
          const clear = decryptUserPassword(hidden, Buffer.from(key), Buffer.from(authenticator));
          assert.deepEqual(clear, Buffer.from(password));
        },
      ),
      { numRuns: 500 },
    );
  });
});
