import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { Component } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import { cidrContains, type Cidr } from '../address.js';
import { encodeSignedResponse, verifyMessageAuthenticator } from './authenticator.js';
import {
  RadiusAttribute,
  RadiusCode,
  RadiusParseError,
  countAttribute,
  parseRadiusPacket,
  textAttribute,
  type OutgoingAttribute,
  type RadiusPacket,
} from './packet.js';

export interface RadiusClient {
  name: string;
  network: Cidr;
  secret: Buffer;
  coaPort: number;
  coaMode: 'coa' | 'disconnect';
}

export interface AccessRequestContext {
  client: RadiusClient;
  packet: RadiusPacket;
  source: { address: string; port: number };
}

export type AuthorizationResult =
  | { decision: 'accept'; attributes: readonly OutgoingAttribute[] }
  | { decision: 'reject'; reason: string };

export interface RadiusServerOptions {
  host: string;
  port: number;
  clients: readonly RadiusClient[];
  duplicateWindowMs: number;
  logger: Logger;
  metrics: Registry;
  authorize: (request: AccessRequestContext) => AuthorizationResult;
}

/** Labels of the drop counter. */
export type RadiusDropReason =
  | RadiusParseError['failure']
  | 'unknown-client'
  | 'unexpected-code'
  | 'missing-message-authenticator'
  | 'bad-message-authenticator';

interface CachedResponse {
  authenticator: Buffer;
  response: Buffer;
  expiresAtMs: number;
}

const MAX_CACHED_RESPONSES = 50_000;

/**
 * RADIUS authentication server (RFC 2865) on UDP for network access servers.
 * It answers Access-Requests only, and silently drops a datagram from an
 * unknown source address, one that does not parse, and any request without a
 * valid Message-Authenticator (RFC 3579 §3.2). A retransmission (same source,
 * identifier and Request Authenticator within the duplicate window) gets the
 * cached response again instead of a new decision.
 */
export class RadiusServer implements Component {
  readonly name = 'radius-server';
  private socket: Socket | undefined;
  private readonly responses = new Map<string, CachedResponse>();
  private readonly dropped: Counter<'reason'>;
  private readonly answered: Counter<'result'>;

  constructor(private readonly options: RadiusServerOptions) {
    this.dropped = new Counter({
      name: 'medward_radius_dropped_total',
      help: 'RADIUS datagrams dropped without an answer, by reason.',
      labelNames: ['reason'],
      registers: [options.metrics],
    });
    this.answered = new Counter({
      name: 'medward_radius_responses_total',
      help: 'RADIUS responses sent, by result (accept, reject, retransmit).',
      labelNames: ['result'],
      registers: [options.metrics],
    });
  }

  /** The bound address and port; the port differs from the option when it was 0. */
  get address(): { address: string; port: number } {
    if (this.socket === undefined) {
      throw new MedwardError(
        ErrorKind.Unavailable,
        'RADIUS_NOT_STARTED',
        'RADIUS server is not started',
      );
    }
    return this.socket.address();
  }

  async start(): Promise<void> {
    const socket = createSocket({ type: isIPv6(this.options.host) ? 'udp6' : 'udp4' });
    socket.on('message', (message, remote) => {
      this.handle(message, remote);
    });
    socket.on('error', (error) => {
      this.options.logger.error({ err: error }, 'RADIUS socket error');
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.options.port, this.options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.socket = socket;
    this.options.logger.info(
      { host: this.options.host, port: this.address.port },
      'RADIUS server listening',
    );
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
    this.responses.clear();
  }

  /** Finds the client whose network contains `address`. */
  clientFor(address: string): RadiusClient | undefined {
    return this.options.clients.find((client) => cidrContains(client.network, address));
  }

  private drop(reason: RadiusDropReason, remote: RemoteInfo, detail?: string): void {
    this.dropped.inc({ reason });
    this.options.logger.debug(
      { reason, source: remote.address, sourcePort: remote.port, detail },
      'RADIUS datagram dropped',
    );
  }

  private handle(message: Buffer, remote: RemoteInfo): void {
    const client = this.clientFor(remote.address);
    if (client === undefined) {
      this.drop('unknown-client', remote);
      return;
    }
    let packet: RadiusPacket;
    try {
      packet = parseRadiusPacket(message);
    } catch (error) {
      if (error instanceof RadiusParseError) {
        this.drop(error.failure, remote, error.message);
        return;
      }
      throw error;
    }
    if (packet.code !== RadiusCode.AccessRequest) {
      this.drop('unexpected-code', remote, `code ${packet.code}`);
      return;
    }
    const cacheKey = `${remote.address}|${remote.port}|${packet.identifier}`;
    const nowMs = Date.now();
    const cached = this.responses.get(cacheKey);
    if (
      cached !== undefined &&
      cached.expiresAtMs > nowMs &&
      cached.authenticator.equals(packet.authenticator)
    ) {
      this.answered.inc({ result: 'retransmit' });
      this.send(cached.response, remote);
      return;
    }
    if (countAttribute(packet, RadiusAttribute.MessageAuthenticator) === 0) {
      this.drop('missing-message-authenticator', remote);
      return;
    }
    if (!verifyMessageAuthenticator(packet, client.secret)) {
      this.drop('bad-message-authenticator', remote);
      return;
    }
    const result = this.options.authorize({
      client,
      packet,
      source: { address: remote.address, port: remote.port },
    });
    const response =
      result.decision === 'accept'
        ? encodeSignedResponse(RadiusCode.AccessAccept, packet, result.attributes, client.secret)
        : encodeSignedResponse(
            RadiusCode.AccessReject,
            packet,
            [textAttribute(RadiusAttribute.ReplyMessage, result.reason.slice(0, 253))],
            client.secret,
          );
    this.answered.inc({ result: result.decision });
    this.remember(cacheKey, {
      authenticator: Buffer.from(packet.authenticator),
      response,
      expiresAtMs: nowMs + this.options.duplicateWindowMs,
    });
    this.send(response, remote);
  }

  private remember(key: string, entry: CachedResponse): void {
    this.responses.delete(key);
    this.responses.set(key, entry);
    if (this.responses.size > MAX_CACHED_RESPONSES) {
      const nowMs = Date.now();
      for (const [oldKey, oldEntry] of this.responses) {
        if (this.responses.size <= MAX_CACHED_RESPONSES && oldEntry.expiresAtMs > nowMs) {
          break;
        }
        this.responses.delete(oldKey);
      }
    }
  }

  private send(response: Buffer, remote: RemoteInfo): void {
    this.socket?.send(response, remote.port, remote.address, (error) => {
      if (error) {
        this.options.logger.warn(
          { err: error, destination: remote.address },
          'RADIUS response not sent',
        );
      }
    });
  }
}
