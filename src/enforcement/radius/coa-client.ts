import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import {
  encodeSignedDynamicRequest,
  verifyMessageAuthenticator,
  verifyResponseAuthenticator,
} from './authenticator.js';
import {
  RadiusAttribute,
  RadiusCode,
  findAttribute,
  parseRadiusPacket,
  type OutgoingAttribute,
  type RadiusPacket,
} from './packet.js';

export interface DynamicAuthorizationTarget {
  address: string;
  port: number;
  secret: Buffer;
}

interface Outstanding {
  target: DynamicAuthorizationTarget;
  requestAuthenticator: Buffer;
  resolve: (packet: RadiusPacket) => void;
}

/**
 * Sends CoA-Requests and Disconnect-Requests (RFC 5176) to network access
 * servers and waits for the ACK or NAK. A request without an answer is sent
 * again, unchanged, after `timeoutMs`, up to `transmissions` times in all.
 */
export class DynamicAuthorizationClient {
  private socket: Socket | undefined;
  private readonly outstanding = new Map<string, Outstanding>();
  private nextIdentifier = 0;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs: number,
    private readonly transmissions = 3,
  ) {}

  async start(host: string): Promise<void> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    socket.on('message', (message, remote) => {
      this.receive(message, remote.address, remote.port);
    });
    socket.on('error', (error) => {
      this.logger.error({ err: error }, 'RADIUS dynamic authorization socket error');
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.socket = socket;
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) {
      await new Promise<void>((resolve) => {
        socket.close(() => {
          resolve();
        });
      });
    }
  }

  /**
   * Sends a CoA-Request or Disconnect-Request and resolves on its ACK.
   * Rejects on a NAK (with its Error-Cause) or when no valid answer arrived.
   */
  async send(
    code: typeof RadiusCode.CoaRequest | typeof RadiusCode.DisconnectRequest,
    target: DynamicAuthorizationTarget,
    attributes: readonly OutgoingAttribute[],
  ): Promise<void> {
    const socket = this.socket;
    if (socket === undefined) {
      throw new MedwardError(
        ErrorKind.Unavailable,
        'RADIUS_COA_NOT_STARTED',
        'RADIUS dynamic authorization client is not started',
      );
    }
    const identifier = this.allocateIdentifier(target);
    const request = encodeSignedDynamicRequest(code, identifier, attributes, target.secret);
    const key = `${target.address}|${target.port}|${identifier}`;
    const kind = code === RadiusCode.CoaRequest ? 'CoA-Request' : 'Disconnect-Request';
    let answer: RadiusPacket | undefined;
    try {
      answer = await new Promise<RadiusPacket | undefined>((resolve) => {
        let sent = 0;
        let timer: NodeJS.Timeout | undefined;
        const transmit = (): void => {
          if (sent >= this.transmissions) {
            resolve(undefined);
            return;
          }
          sent += 1;
          socket.send(request, target.port, target.address);
          timer = setTimeout(transmit, this.timeoutMs);
        };
        this.outstanding.set(key, {
          target,
          requestAuthenticator: request.subarray(4, 20),
          resolve: (packet) => {
            clearTimeout(timer);
            resolve(packet);
          },
        });
        transmit();
      });
    } finally {
      this.outstanding.delete(key);
    }
    if (answer === undefined) {
      throw new MedwardError(
        ErrorKind.Timeout,
        'RADIUS_COA_TIMEOUT',
        `${kind} to ${target.address}:${target.port} got no answer after ${this.transmissions} transmissions`,
        {
          details: { address: target.address, port: target.port },
        },
      );
    }
    if (answer.code === RadiusCode.CoaAck || answer.code === RadiusCode.DisconnectAck) {
      return;
    }
    const cause = findAttribute(answer, RadiusAttribute.ErrorCause);
    const errorCause = cause?.length === 4 ? cause.readUInt32BE(0) : undefined;
    throw new MedwardError(
      ErrorKind.Unavailable,
      'RADIUS_COA_NAK',
      `${kind} to ${target.address}:${target.port} was refused with a NAK (Error-Cause ${errorCause ?? 'absent'})`,
      {
        details: { address: target.address, port: target.port, errorCause },
      },
    );
  }

  private allocateIdentifier(target: DynamicAuthorizationTarget): number {
    for (let tries = 0; tries < 256; tries += 1) {
      const identifier = this.nextIdentifier;
      this.nextIdentifier = (this.nextIdentifier + 1) % 256;
      if (!this.outstanding.has(`${target.address}|${target.port}|${identifier}`)) {
        return identifier;
      }
    }
    throw new MedwardError(
      ErrorKind.Unavailable,
      'RADIUS_COA_IDENTIFIERS_EXHAUSTED',
      `256 requests to ${target.address}:${target.port} are outstanding; retry later`,
    );
  }

  private receive(message: Buffer, address: string, port: number): void {
    let packet: RadiusPacket;
    try {
      packet = parseRadiusPacket(message);
    } catch (error) {
      this.logger.debug(
        { err: error, source: address },
        'malformed dynamic authorization answer dropped',
      );
      return;
    }
    const key = `${address}|${port}|${packet.identifier}`;
    const pending = this.outstanding.get(key);
    const expectedCodes: readonly number[] = [
      RadiusCode.CoaAck,
      RadiusCode.CoaNak,
      RadiusCode.DisconnectAck,
      RadiusCode.DisconnectNak,
    ];
    if (pending === undefined || !expectedCodes.includes(packet.code)) {
      this.logger.debug(
        { source: address, identifier: packet.identifier },
        'unexpected dynamic authorization answer dropped',
      );
      return;
    }
    const hasMessageAuthenticator = packet.attributes.some(
      (a) => a.type === RadiusAttribute.MessageAuthenticator,
    );
    if (
      !verifyResponseAuthenticator(packet, pending.target.secret, pending.requestAuthenticator) ||
      (hasMessageAuthenticator &&
        !verifyMessageAuthenticator(packet, pending.target.secret, pending.requestAuthenticator))
    ) {
      this.logger.warn(
        { source: address, identifier: packet.identifier },
        'dynamic authorization answer with a wrong authenticator dropped',
      );
      return;
    }
    pending.resolve(packet);
  }
}
