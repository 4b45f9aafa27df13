import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import type { AuditTrail } from '../../core/audit/index.js';
import { ErrorKind, MedwardError, invalid } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { parseMac, requireCidr } from '../address.js';
import type { RadiusClientSettings, RadiusConfig } from '../config.js';
import type { SegmentModel } from '../segments.js';
import type {
  DeviceEnforcement,
  EnforcementPoint,
  EnforcementState,
  InterfaceKind,
} from '../types.js';
import { decryptUserPassword, verifyChapPassword } from './authenticator.js';
import { DynamicAuthorizationClient } from './coa-client.js';
import {
  NasPortType,
  RadiusAttribute,
  RadiusCode,
  findAttribute,
  vlanAttributes,
  type OutgoingAttribute,
} from './packet.js';
import {
  RadiusServer,
  type AccessRequestContext,
  type AuthorizationResult,
  type RadiusClient,
} from './server.js';

export interface RadiusPointOptions {
  config: RadiusConfig;
  model: SegmentModel;
  logger: Logger;
  metrics: Registry;
  /** Receives an audit record for every request rejected as tampered (port type, credential). */
  audit: AuditTrail;
}

/** A port session learnt from an accepted Access-Request; the target of CoA and Disconnect requests. */
interface PortSession {
  client: RadiusClient;
  nasAddress: string;
  vlan: number;
  identification: OutgoingAttribute[];
}

const portTypeKinds: ReadonlyMap<number, InterfaceKind> = new Map([
  [NasPortType.Ethernet, 'wired'],
  [NasPortType.Wireless80211, 'wireless'],
]);

/** Reads each client's shared secret from the configuration or its secret file. */
export function resolveRadiusClients(settings: readonly RadiusClientSettings[]): RadiusClient[] {
  return settings.map((client, index) => {
    const field = `enforcement.radius.clients[${index}]`;
    if ((client.secret === undefined) === (client.secretFile === undefined)) {
      throw invalid(
        'RADIUS_CLIENT_SECRET_INVALID',
        `${field} (${client.name}) needs exactly one of secret and secretFile`,
        { client: client.name },
      );
    }
    let secret: string;
    if (client.secretFile !== undefined) {
      try {
        secret = readFileSync(client.secretFile, 'utf8').trim();
      } catch (error) {
        throw new MedwardError(
          ErrorKind.Invalid,
          'RADIUS_CLIENT_SECRET_UNREADABLE',
          `cannot read ${field}.secretFile ${client.secretFile}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    } else {
      secret = client.secret ?? '';
    }
    if (secret.length < 8) {
      throw invalid(
        'RADIUS_CLIENT_SECRET_INVALID',
        `${field} (${client.name}) has a secret shorter than 8 characters`,
        { client: client.name },
      );
    }
    return {
      name: client.name,
      network: requireCidr(client.address, `${field}.address`),
      secret: Buffer.from(secret, 'utf8'),
      coaPort: client.coaPort,
      coaMode: client.coaMode,
    };
  });
}

/**
 * VLAN enforcement through RADIUS: answers MAC authentication bypass
 * requests from switches and access points with the VLAN of the device's
 * segment (RFC 3580 tunnel attributes), and moves live sessions with a
 * CoA-Request or Disconnect-Request (RFC 5176) when a segment changes.
 */
export class RadiusEnforcementPoint implements EnforcementPoint {
  readonly name = 'radius';
  readonly server: RadiusServer;
  private readonly coa: DynamicAuthorizationClient;
  private readonly devices = new Map<string, DeviceEnforcement>();
  private readonly deviceByMac = new Map<string, string>();
  private readonly sessions = new Map<string, PortSession>();
  private readonly rejections: Counter<'reason'>;

  constructor(private readonly options: RadiusPointOptions) {
    const clients = resolveRadiusClients(options.config.clients);
    this.server = new RadiusServer({
      host: options.config.host,
      port: options.config.port,
      clients,
      duplicateWindowMs: options.config.duplicateWindowMs,
      logger: options.logger,
      metrics: options.metrics,
      authorize: (request) => this.authorize(request),
    });
    this.coa = new DynamicAuthorizationClient(options.logger, options.config.coaTimeoutMs);
    this.rejections = new Counter({
      name: 'medward_radius_rejects_total',
      help: 'Access-Rejects sent, by reason.',
      labelNames: ['reason'],
      registers: [options.metrics],
    });
  }

  async start(): Promise<void> {
    await this.server.start();
    await this.coa.start(this.options.config.host);
  }

  async stop(): Promise<void> {
    await this.coa.stop();
    await this.server.stop();
  }

  async enforce(enforcement: DeviceEnforcement): Promise<void> {
    this.index(enforcement);
    const segment = this.options.model.segmentByName(enforcement.segmentName);
    if (segment === undefined) {
      throw invalid(
        'RADIUS_SEGMENT_UNKNOWN',
        `segment ${enforcement.segmentName} has no VLAN; configure it under enforcement.segments`,
      );
    }
    const moves = enforcement.device.macs.flatMap((mac) => {
      const session = this.sessions.get(mac);
      return session === undefined || session.vlan === segment.vlan ? [] : [{ mac, session }];
    });
    await Promise.all(
      moves.map(async ({ mac, session }) => {
        const target = {
          address: session.nasAddress,
          port: session.client.coaPort,
          secret: session.client.secret,
        };
        if (session.client.coaMode === 'coa') {
          await this.coa.send(RadiusCode.CoaRequest, target, [
            ...session.identification,
            ...vlanAttributes(segment.vlan),
          ]);
          session.vlan = segment.vlan;
        } else {
          await this.coa.send(RadiusCode.DisconnectRequest, target, session.identification);
          this.sessions.delete(mac);
        }
        this.options.logger.info(
          { mac, nas: session.nasAddress, vlan: segment.vlan, mode: session.client.coaMode },
          'RADIUS session moved',
        );
      }),
    );
  }

  remove(deviceId: string): Promise<void> {
    // NOTE: live sessions of a removed device keep their VLAN until they authenticate again.
    this.drop(deviceId);
    return Promise.resolve();
  }

  restore(state: EnforcementState): Promise<void> {
    this.devices.clear();
    this.deviceByMac.clear();
    for (const enforcement of state.devices) {
      this.index(enforcement);
    }
    return Promise.resolve();
  }

  inForce(): ReadonlyMap<string, { segmentName: string; decisionId: string }> {
    return new Map(
      [...this.devices].map(([deviceId, item]) => [
        deviceId,
        { segmentName: item.segmentName, decisionId: item.decisionId },
      ]),
    );
  }

  private index(enforcement: DeviceEnforcement): void {
    this.drop(enforcement.device.id);
    this.devices.set(enforcement.device.id, enforcement);
    for (const mac of enforcement.device.macs) {
      this.deviceByMac.set(mac, enforcement.device.id);
    }
  }

  private drop(deviceId: string): void {
    const existing = this.devices.get(deviceId);
    for (const mac of existing?.device.macs ?? []) {
      if (this.deviceByMac.get(mac) === deviceId) {
        this.deviceByMac.delete(mac);
      }
    }
    this.devices.delete(deviceId);
  }

  private reject(reason: string, label: string): AuthorizationResult {
    this.rejections.inc({ reason: label });
    return { decision: 'reject', reason };
  }

  /** Decides one Access-Request; see the class comment for the checks. */
  private authorize(request: AccessRequestContext): AuthorizationResult {
    const { packet, client } = request;
    if (findAttribute(packet, RadiusAttribute.EapMessage) !== undefined) {
      // TODO: 802.1X with EAP needs an EAP server; medward answers MAC authentication bypass only.
      return this.reject('EAP authentication is not handled by this server', 'eap');
    }
    const userName = findAttribute(packet, RadiusAttribute.UserName);
    const callingStation = findAttribute(packet, RadiusAttribute.CallingStationId);
    const macFromStation =
      callingStation === undefined ? undefined : parseMac(callingStation.toString('latin1'));
    const macFromUser = userName === undefined ? undefined : parseMac(userName.toString('latin1'));
    const mac = macFromStation ?? macFromUser;
    if (mac === undefined || userName === undefined) {
      return this.reject(
        'request names no MAC address in User-Name or Calling-Station-Id',
        'no-mac',
      );
    }
    if (
      macFromStation !== undefined &&
      macFromUser !== undefined &&
      macFromStation !== macFromUser
    ) {
      return this.rejectTampered(
        request,
        mac,
        'User-Name and Calling-Station-Id name different MAC addresses',
        'mac-mismatch',
      );
    }
    const credential = this.checkCredential(request, userName);
    if (credential !== undefined) {
      return this.rejectTampered(request, mac, credential, 'credential');
    }
    const portTypeValue = findAttribute(packet, RadiusAttribute.NasPortType);
    const portKind =
      portTypeValue?.length === 4 ? portTypeKinds.get(portTypeValue.readUInt32BE(0)) : undefined;
    if (portKind === undefined) {
      return this.reject(
        'NAS-Port-Type is missing or neither Ethernet nor Wireless-802.11',
        'port-type',
      );
    }
    const deviceId = this.deviceByMac.get(mac);
    const enforcement = deviceId === undefined ? undefined : this.devices.get(deviceId);
    let segmentName: string;
    if (enforcement === undefined) {
      if (this.options.config.unknownDevice === 'reject') {
        return this.reject('device is not known', 'unknown-device');
      }
      segmentName = 'provisioning';
    } else {
      const known = enforcement.device.interfaces.find((item) => item.mac === mac)?.kind;
      if (known !== portKind) {
        return this.rejectTampered(
          request,
          mac,
          `NAS-Port-Type says ${portKind} but the device's interface ${mac} is ${known ?? 'not listed'}`,
          'port-type-mismatch',
          enforcement.device.id,
        );
      }
      segmentName = enforcement.segmentName;
    }
    const segment = this.options.model.segmentByName(segmentName);
    if (segment === undefined) {
      return this.reject(`segment ${segmentName} has no VLAN`, 'segment');
    }
    this.sessions.set(mac, {
      client,
      nasAddress: request.source.address,
      vlan: segment.vlan,
      identification: this.identification(request),
    });
    return { decision: 'accept', attributes: vlanAttributes(segment.vlan) };
  }

  /** Returns why the credential is wrong, or undefined when it is right. */
  private checkCredential(request: AccessRequestContext, userName: Buffer): string | undefined {
    const { packet, client } = request;
    const password = findAttribute(packet, RadiusAttribute.UserPassword);
    if (password !== undefined) {
      const clear = decryptUserPassword(password, client.secret, packet.authenticator);
      if (clear === undefined || !clear.equals(userName)) {
        return 'User-Password does not match the MAC address in User-Name';
      }
      return undefined;
    }
    const chap = findAttribute(packet, RadiusAttribute.ChapPassword);
    if (chap !== undefined) {
      const challenge =
        findAttribute(packet, RadiusAttribute.ChapChallenge) ?? packet.authenticator;
      return verifyChapPassword(chap, userName, challenge)
        ? undefined
        : 'CHAP-Password does not match the MAC address in User-Name';
    }
    return 'request carries neither User-Password nor CHAP-Password';
  }

  private rejectTampered(
    request: AccessRequestContext,
    mac: string,
    reason: string,
    label: string,
    deviceId?: string,
  ): AuthorizationResult {
    this.options.logger.warn(
      { mac, deviceId, nas: request.client.name, source: request.source.address, reason: label },
      'RADIUS request rejected',
    );
    this.options.audit
      .record({
        event: 'enforcement.radius-reject',
        action: 'E',
        outcome: 'minor-failure',
        target:
          deviceId === undefined ? { kind: 'mac', id: mac } : { kind: 'device', id: deviceId },
        sourceAddress: request.source.address,
        reason,
        details: { mac, nas: request.client.name, check: label },
      })
      .catch((error: unknown) => {
        this.options.logger.error({ err: error, mac }, 'audit of RADIUS reject failed');
      });
    return this.reject(reason, label);
  }

  private identification(request: AccessRequestContext): OutgoingAttribute[] {
    const attributes: OutgoingAttribute[] = [];
    for (const type of [
      RadiusAttribute.UserName,
      RadiusAttribute.CallingStationId,
      RadiusAttribute.NasIpAddress,
      RadiusAttribute.NasIdentifier,
      RadiusAttribute.NasPortId,
      RadiusAttribute.AcctSessionId,
    ]) {
      const value = findAttribute(request.packet, type);
      if (value !== undefined) {
        attributes.push({ type, value: Buffer.from(value) });
      }
    }
    return attributes;
  }
}
