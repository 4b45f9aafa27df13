import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import aedes from 'aedes';
import type { Component } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { MedwardError, ErrorKind } from '../errors.js';

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port; read `port` after start. */
  port: number;
}

/**
 * The MQTT broker medward runs in its own process by default (Aedes, MQTT
 * 3.1.1), so a single process serves oneM2M's MQTT binding without a site
 * broker. It listens on loopback unless configured otherwise, and keeps
 * messages in memory only.
 */
export class EmbeddedBroker implements Component {
  readonly name = 'mqtt-broker';
  /** Created in start(): Aedes starts interval timers when created, which would keep a process whose start failed from exiting. */
  private broker: ReturnType<typeof aedes.createBroker> | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;

  constructor(
    private readonly options: EmbeddedBrokerOptions,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const broker = aedes.createBroker();
    broker.on('clientError', (client, error) => {
      this.logger.debug({ clientId: client.id, err: error }, 'mqtt client error');
    });
    this.broker = broker;
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      broker.handle(socket);
    });
    this.server = server;
    server.listen(this.options.port, this.options.host);
    try {
      await Promise.race([
        once(server, 'listening'),
        once(server, 'error').then(([error]) => Promise.reject(error as Error)),
      ]);
    } catch (error) {
      this.server = undefined;
      this.broker = undefined;
      broker.close();
      throw new MedwardError(
        ErrorKind.Unavailable,
        'MQTT_LISTEN_FAILED',
        `embedded MQTT broker cannot listen on ${this.options.host}:${this.options.port}: ` +
          `${(error as Error).message}; set mqtt.embedded.port to a free port`,
        { cause: error },
      );
    }
    const address = server.address();
    this.boundPort =
      typeof address === 'object' && address !== null ? address.port : this.options.port;
    this.logger.info(
      { host: this.options.host, port: this.boundPort },
      'embedded mqtt broker listening',
    );
  }

  get port(): number {
    return this.boundPort;
  }

  /** The URL a client uses to reach this broker. */
  get url(): string {
    return `mqtt://${this.options.host}:${this.boundPort}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    if (server === undefined || broker === undefined) {
      return;
    }
    const closed = new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => {
      broker.close(() => {
        resolve();
      });
    });
    await closed;
    this.server = undefined;
    this.broker = undefined;
  }
}
