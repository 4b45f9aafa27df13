import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { TestContext } from 'node:test';
import { AuditTrail } from '../../src/core/audit/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import {
  encodeSignedAccessRequest,
  encodeSignedResponse,
  encryptUserPassword,
  verifyMessageAuthenticator,
} from '../../src/enforcement/radius/authenticator.js';
import {
  NasPortType,
  RadiusAttribute,
  RadiusCode,
  integerAttribute,
  parseRadiusPacket,
  textAttribute,
  type OutgoingAttribute,
  type RadiusPacket,
} from '../../src/enforcement/radius/packet.js';
import { RadiusEnforcementPoint } from '../../src/enforcement/radius/radius-point.js';
import { SegmentModel } from '../../src/enforcement/segments.js';
import type { EnforcementConfig } from '../../src/enforcement/config.js';
import type { TestDatabase } from '../support/storage.js';

export const secret = 'testing-secret-123';

/** Builds a RADIUS point on an ephemeral 127.0.0.1 port with one client, 127.0.0.1. */
export function makeRadiusPoint(
  config: EnforcementConfig,
  database: TestDatabase,
  client: { coaPort?: number; coaMode?: 'coa' | 'disconnect' } = {},
  metrics: Registry = createMetricsRegistry({ defaultMetrics: false }),
): RadiusEnforcementPoint {
  return new RadiusEnforcementPoint({
    config: {
      ...config.radius,
      port: 0,
      clients: [
        {
          name: 'test-switch',
          address: '127.0.0.1/32',
          secret,
          coaPort: client.coaPort ?? 3799,
          coaMode: client.coaMode ?? 'coa',
        },
      ],
    },
    model: new SegmentModel(config.segments, config.services),
    logger: silentLogger(),
    metrics,
    audit: new AuditTrail(database.storage, { siteId: 'test-site' }),
  });
}

/** MAB attributes as a switch sends them: User-Name and password are the MAC. */
export function mabAttributes(
  mac: string,
  portType: number = NasPortType.Ethernet,
): (authenticator: Buffer, key: Buffer) => OutgoingAttribute[] {
  const userName = mac.replaceAll(':', '');
  return (authenticator, key) => [
    textAttribute(RadiusAttribute.UserName, userName),
    {
      type: RadiusAttribute.UserPassword,
      value: encryptUserPassword(Buffer.from(userName), key, authenticator),
    },
    textAttribute(RadiusAttribute.CallingStationId, mac.replaceAll(':', '-').toUpperCase()),
    integerAttribute(RadiusAttribute.NasPortType, portType),
    textAttribute(RadiusAttribute.NasIdentifier, 'ward-3-switch'),
  ];
}

/** Sends one Access-Request from 127.0.0.1 and returns the response, or undefined after `timeoutMs`. */
export async function sendAccessRequest(
  port: number,
  build: (authenticator: Buffer, key: Buffer) => OutgoingAttribute[],
  key = Buffer.from(secret),
  timeoutMs = 500,
): Promise<RadiusPacket | undefined> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const authenticator = Buffer.alloc(16);
    for (let i = 0; i < 16; i += 1) {
      authenticator[i] = Math.floor(Math.random() * 256);
    }
    const request = encodeSignedAccessRequest(7, build(authenticator, key), key, authenticator);
    return await new Promise<RadiusPacket | undefined>((resolve) => {
      const timer = setTimeout(() => {
        resolve(undefined);
      }, timeoutMs);
      socket.once('message', (message) => {
        clearTimeout(timer);
        resolve(parseRadiusPacket(message));
      });
      socket.send(request, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

export interface RadclientResult {
  code: number;
  output: string;
}

/** Runs FreeRADIUS's radclient against 127.0.0.1:`port` with `attributes` (one per line). */
export function radclient(
  port: number,
  key: string,
  attributes: readonly string[],
  extra: readonly string[] = [],
): Promise<RadclientResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'radclient',
      ['-x', '-r', '1', '-t', '1', ...extra, `127.0.0.1:${port}`, 'auth', key],
      { timeout: 10_000 },
      (error, stdout, stderr) => {
        let code = 0;
        if (error !== null) {
          code = typeof error.code === 'number' ? error.code : 1;
        }
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
    child.stdin?.end(attributes.join('\n') + '\n');
  });
}

/** Returns whether radclient is installed; skips outside CI, fails under CI=true. */
export async function requireRadclient(t: TestContext): Promise<boolean> {
  const found = await new Promise<boolean>((resolve) => {
    execFile('radclient', ['-v'], (error) => {
      resolve(error === null);
    });
  });
  if (found) {
    return true;
  }
  const message = 'radclient is not installed (apt-get install -y freeradius-utils)';
  if (process.env.CI === 'true') {
    throw new Error(`${message}; CI requires it`);
  }
  t.skip(message);
  return false;
}

export interface NasListener {
  port: number;
  /** Requests received with a valid Request Authenticator and Message-Authenticator. */
  received: RadiusPacket[];
  /** Requests whose authenticators did not verify. */
  invalid: number;
  /** Response to send to the following requests. */
  answer: 'ack' | 'nak' | 'none';
  close(): Promise<void>;
}

/** Starts a UDP socket on 127.0.0.1 that acts as a switch's RFC 5176 Dynamic Authorization listener. */
export async function startNasListener(key = Buffer.from(secret)): Promise<NasListener> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const listener: NasListener = {
    port: socket.address().port,
    received: [],
    invalid: 0,
    answer: 'ack',
    close: () =>
      new Promise<void>((resolve) =>
        socket.close(() => {
          resolve();
        }),
      ),
  };
  socket.on('message', (message, remote) => {
    const packet = parseRadiusPacket(message);
    const zeroed = Buffer.from(packet.raw);
    Buffer.alloc(16).copy(zeroed, 4);
    const expected = createHash('md5').update(zeroed).update(key).digest();
    const valid =
      expected.equals(packet.authenticator) &&
      verifyMessageAuthenticator(packet, key, Buffer.alloc(16));
    if (!valid) {
      listener.invalid += 1;
      return;
    }
    listener.received.push(packet);
    if (listener.answer === 'none') {
      return;
    }
    const isCoa = packet.code === RadiusCode.CoaRequest;
    const code =
      listener.answer === 'ack'
        ? isCoa
          ? RadiusCode.CoaAck
          : RadiusCode.DisconnectAck
        : isCoa
          ? RadiusCode.CoaNak
          : RadiusCode.DisconnectNak;
    const attributes =
      listener.answer === 'nak' ? [integerAttribute(RadiusAttribute.ErrorCause, 503)] : [];
    socket.send(encodeSignedResponse(code, packet, attributes, key), remote.port, remote.address);
  });
  return listener;
}
