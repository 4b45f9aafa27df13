/**
 * oneM2M to IEEE 11073-20601. A contentInstance created in a device's command
 * container reaches medward as an HTTP notification and becomes a command to
 * the associated agent. The agent's result, or the reason the command was
 * rejected, is written to the device's command-result container.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuditOutcome, type AuditEntry, type AuditTrail } from '../core/audit/index.js';
import { isMedwardError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { AgentCommand, AgentCommandResult } from '../ieee11073/manager/agent-commands.js';
import type { BoundaryGuard } from './boundary.js';

/** Largest notification body read, in bytes. */
const MAX_NOTIFICATION_BYTES = 256 * 1024;
/** Command contentInstances remembered so a repeated notification runs a command once. */
const HANDLED_COMMANDS_KEPT = 10000;

const SYSTEM_ID_PATH = /^\/commands\/([0-9a-f]{16})$/;

/** The part of the manager the command path uses (`Ieee11073Manager.runAgentCommand`). */
export interface AgentCommandRunner {
  runAgentCommand(systemId: string, command: AgentCommand): Promise<AgentCommandResult>;
}

/** A command contentInstance as the notification carries it. */
export interface CommandInstance {
  /** Resource id of the contentInstance. */
  ri: string;
  rn: string;
  con: unknown;
  creator?: string;
}

export interface CommandOutcome {
  commandId: string;
  command: string | null;
  outcome: 'success' | 'rejected' | 'failed';
  reason?: string;
  agentResponse?: string;
  completedAt: string;
}

/** Writes the outcome of a command to the device's command-result container. */
export type ResultWriter = (systemId: string, outcome: CommandOutcome) => Promise<void>;

type ParsedCommand = { ok: true; command: AgentCommand } | { ok: false; reason: string };

/**
 * Validates a command's content: JSON text (or an object) `{ "op": "set-time" }`.
 * TODO: SET of an attribute and ACTIONs other than Set-Time are not offered yet.
 */
export function parseCommand(con: unknown): ParsedCommand {
  let value: unknown = con;
  if (typeof con === 'string') {
    try {
      value = JSON.parse(con) as unknown;
    } catch {
      return { ok: false, reason: 'command content is not JSON' };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'command content must be a JSON object with op' };
  }
  const record = value as Record<string, unknown>;
  const extra = Object.keys(record).filter((key) => key !== 'op');
  if (extra.length > 0) {
    return { ok: false, reason: `command has unknown members: ${extra.slice(0, 5).join(', ')}` };
  }
  if (record.op === 'set-time') {
    return { ok: true, command: { kind: 'set-time' } };
  }
  const op = typeof record.op === 'string' ? record.op.slice(0, 64) : typeof record.op;
  return { ok: false, reason: `command op ${JSON.stringify(op)} is unknown; use set-time` };
}

export interface CommandPathOptions {
  agents: AgentCommandRunner;
  boundary: BoundaryGuard;
  audit: AuditTrail;
  logger: Logger;
  writeResult: ResultWriter;
  /** Port of the notification listener on 127.0.0.1; 0 picks a free one. */
  port: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns the contentInstance a notification reports the creation of, if any. */
function createdInstance(sgn: Record<string, unknown>): CommandInstance | undefined {
  const nev = sgn.nev;
  if (!isObject(nev) || !isObject(nev.rep)) {
    return undefined;
  }
  const cin = nev.rep['m2m:cin'];
  if (!isObject(cin) || typeof cin.ri !== 'string' || typeof cin.rn !== 'string') {
    return undefined;
  }
  const instance: CommandInstance = { ri: cin.ri, rn: cin.rn, con: cin.con };
  if (typeof cin.cr === 'string') {
    instance.creator = cin.cr;
  }
  return instance;
}

export class CommandPath {
  private server: Server | undefined;
  private readonly handled = new Set<string>();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly options: CommandPathOptions) {}

  /** Notification URL of a device's command subscription; valid once started. */
  notificationUrl(systemId: string): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (address === undefined || address === null) {
      throw new Error('command notification listener is not started');
    }
    return `http://127.0.0.1:${address.port}/commands/${systemId}`;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      this.receive(request, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    }
    await Promise.allSettled([...this.running]);
  }

  private receive(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= MAX_NOTIFICATION_BYTES) {
        chunks.push(chunk);
      }
    });
    request.on('end', () => {
      const task = this.onNotification(request, Buffer.concat(chunks), size, response);
      this.running.add(task);
      void task.finally(() => this.running.delete(task));
    });
  }

  private async onNotification(
    request: IncomingMessage,
    bytes: Buffer,
    size: number,
    response: ServerResponse,
  ): Promise<void> {
    const source = `${request.socket.remoteAddress ?? 'unknown'}:${request.socket.remotePort ?? 0}`;
    const answer = (status: number, rsc: number): void => {
      response.statusCode = status;
      response.setHeader('X-M2M-RSC', String(rsc));
      response.setHeader('X-M2M-RI', String(request.headers['x-m2m-ri'] ?? ''));
      response.end();
    };
    const match = SYSTEM_ID_PATH.exec(request.url ?? '');
    let body: unknown = bytes.toString('utf8');
    try {
      body = JSON.parse(bytes.toString('utf8')) as unknown;
    } catch {
      // The boundary rejects the raw text below.
    }
    const candidate =
      size > MAX_NOTIFICATION_BYTES || match === null || request.method !== 'POST'
        ? bytes
        : {
            op: 5,
            to: request.url,
            fr: request.headers['x-m2m-origin'],
            rqi: request.headers['x-m2m-ri'],
            pc: body,
          };
    const detection = await this.options.boundary.check(candidate, source);
    const systemId = match?.[1];
    if (!detection.accepted || detection.protocol !== 'onem2m' || systemId === undefined) {
      answer(400, 4000);
      return;
    }
    answer(200, 2000);
    const sgn = detection.request.pc?.['m2m:sgn'];
    if (!isObject(sgn) || sgn.vrq === true) {
      return;
    }
    const instance = createdInstance(sgn);
    if (instance === undefined || this.handled.has(instance.ri)) {
      return;
    }
    if (this.handled.size >= HANDLED_COMMANDS_KEPT) {
      this.handled.clear();
    }
    this.handled.add(instance.ri);
    await this.execute(systemId, instance);
  }

  /** Validates and runs one command, then writes and audits its outcome. */
  async execute(systemId: string, instance: CommandInstance): Promise<CommandOutcome> {
    const parsed = parseCommand(instance.con);
    let outcome: CommandOutcome;
    if (!parsed.ok) {
      outcome = this.outcome(instance, null, 'rejected', parsed.reason);
    } else {
      outcome = await this.run(systemId, instance, parsed.command);
    }
    await this.options.audit.record(this.auditEntry(systemId, instance, outcome));
    try {
      await this.options.writeResult(systemId, outcome);
    } catch (error) {
      this.options.logger.error(
        { err: error, systemId, commandId: instance.ri },
        'interworking command result not written',
      );
    }
    return outcome;
  }

  private async run(
    systemId: string,
    instance: CommandInstance,
    command: AgentCommand,
  ): Promise<CommandOutcome> {
    try {
      const result = await this.options.agents.runAgentCommand(systemId, command);
      const outcome = this.outcome(instance, command.kind, 'success');
      outcome.agentResponse = result.response;
      return outcome;
    } catch (error) {
      if (
        isMedwardError(error) &&
        (error.code === 'IEEE11073_AGENT_NOT_ASSOCIATED' ||
          error.code === 'IEEE11073_AGENT_CAPABILITY_MISSING')
      ) {
        return this.outcome(instance, command.kind, 'rejected', error.message);
      }
      const reason = error instanceof Error ? error.message : String(error);
      this.options.logger.warn({ err: error, systemId }, 'interworking agent command failed');
      return this.outcome(instance, command.kind, 'failed', reason);
    }
  }

  private outcome(
    instance: CommandInstance,
    command: string | null,
    outcome: CommandOutcome['outcome'],
    reason?: string,
  ): CommandOutcome {
    const result: CommandOutcome = {
      commandId: instance.ri,
      command,
      outcome,
      completedAt: new Date().toISOString(),
    };
    if (reason !== undefined) {
      result.reason = reason;
    }
    return result;
  }

  private auditEntry(
    systemId: string,
    instance: CommandInstance,
    outcome: CommandOutcome,
  ): AuditEntry {
    const event =
      outcome.outcome === 'success'
        ? 'interworking.command.execute'
        : outcome.outcome === 'rejected'
          ? 'interworking.command.reject'
          : 'interworking.command.fail';
    const entry: AuditEntry = {
      event,
      action: 'E',
      outcome: outcome.outcome === 'success' ? AuditOutcome.Success : AuditOutcome.MinorFailure,
      target: { kind: 'device', id: systemId },
      details: {
        commandId: instance.ri,
        command: outcome.command,
        creator: instance.creator ?? null,
      },
    };
    if (outcome.reason !== undefined) {
      entry.reason = outcome.reason;
    }
    return entry;
  }
}
