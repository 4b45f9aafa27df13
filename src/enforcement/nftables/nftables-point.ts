import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { NftablesConfig } from '../config.js';
import type { SegmentModel } from '../segments.js';
import type { DeviceEnforcement, EnforcementPoint, EnforcementState } from '../types.js';
import { createCommandRunner, type CommandRunner } from './command-runner.js';
import { parseTableJson, type TableState } from './readback.js';
import {
  decisionTag,
  deviceChainName,
  renderDeviceChange,
  renderDeviceRemoval,
  renderTable,
  type TableNames,
} from './ruleset.js';

export interface NftablesPointOptions {
  config: NftablesConfig;
  model: SegmentModel;
  logger: Logger;
  /** Runs nft; defaults to `config.command` on this host. Tests pass `ip netns exec <gw> nft`. */
  run?: CommandRunner;
}

interface DeviceRecord {
  chain: string;
  segmentName: string;
  decisionId: string;
}

function notConfirmed(message: string, details: Record<string, unknown>): MedwardError {
  return new MedwardError(
    ErrorKind.Unavailable,
    'ENFORCEMENT_NFT_NOT_CONFIRMED',
    `nftables read-back does not show the change: ${message}`,
    {
      details,
    },
  );
}

/**
 * Enforcement on the gateway host with nftables. medward owns one table
 * (`inet medward` by default) and leaves every other table alone. Each change
 * is one `nft -f -` transaction of element and chain updates, and counts as
 * done only after `nft -j list table` shows it. The table stays in place when
 * medward stops, so devices stay where they were put.
 */
export class NftablesEnforcementPoint implements EnforcementPoint {
  readonly name = 'nftables';
  private readonly names: TableNames;
  private readonly run: CommandRunner;
  private readonly devices = new Map<string, DeviceRecord>();
  /**
   * The table as the last read-back showed it. Only medward changes its table,
   * so the next change starts from it. Any failure drops it, and the next
   * change reads the kernel again.
   */
  private lastState: TableState | undefined;

  constructor(private readonly options: NftablesPointOptions) {
    this.names = { family: options.config.family, table: options.config.table };
    this.run =
      options.run ?? createCommandRunner([options.config.command], options.config.commandTimeoutMs);
  }

  async start(): Promise<void> {
    await this.run(['--version']);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  async enforce(enforcement: DeviceEnforcement): Promise<void> {
    try {
      await this.enforceFrom(this.lastState ?? (await this.readState()), enforcement);
    } catch (error) {
      this.lastState = undefined;
      throw error;
    }
  }

  private async enforceFrom(
    state: TableState | undefined,
    enforcement: DeviceEnforcement,
  ): Promise<void> {
    if (state === undefined || !state.hooks.has('forward') || !state.hooks.has('input')) {
      throw notConfirmed(
        `table ${this.names.family} ${this.names.table} is missing or incomplete; it is restored at startup`,
        {
          table: this.names.table,
        },
      );
    }
    const chain = deviceChainName(enforcement.device.id);
    const present = new Set<string>();
    const stale: string[] = [];
    for (const [mac, target] of state.elements) {
      if (enforcement.device.macs.includes(mac)) {
        present.add(mac);
      } else if (target === chain) {
        stale.push(mac);
      }
    }
    const flows = this.options.model.flowsOf(enforcement);
    const lines = [
      ...(stale.length > 0
        ? renderDeviceRemoval(this.names, enforcement.device.id, stale, false)
        : []),
      ...renderDeviceChange(this.names, enforcement, flows, present),
    ];
    await this.apply(lines);
    const after = await this.readState();
    this.confirmDevice(after, enforcement, flows.length + 1);
    this.lastState = after;
    this.devices.set(enforcement.device.id, {
      chain,
      segmentName: enforcement.segmentName,
      decisionId: enforcement.decisionId,
    });
  }

  async remove(deviceId: string): Promise<void> {
    this.lastState = undefined;
    const state = await this.readState();
    if (state === undefined) {
      this.devices.delete(deviceId);
      return;
    }
    const chain = deviceChainName(deviceId);
    const macs = [...state.elements].filter(([, target]) => target === chain).map(([mac]) => mac);
    const lines = renderDeviceRemoval(this.names, deviceId, macs, state.chains.has(chain));
    if (lines.length > 0) {
      await this.apply(lines);
    }
    const after = await this.readState();
    if (
      after !== undefined &&
      (after.chains.has(chain) || [...after.elements.values()].includes(chain))
    ) {
      throw notConfirmed(`device ${deviceId} still has chain ${chain} or map entries`, {
        deviceId,
        chain,
      });
    }
    this.lastState = after;
    this.devices.delete(deviceId);
  }

  async restore(state: EnforcementState): Promise<void> {
    this.lastState = undefined;
    const claimed = new Set<string>();
    const devices = state.devices.map((enforcement) => {
      const macs = enforcement.device.macs.filter((mac) => !claimed.has(mac));
      if (macs.length < enforcement.device.macs.length) {
        this.options.logger.warn(
          { deviceId: enforcement.device.id },
          'MAC claimed by two devices; the first keeps it',
        );
      }
      for (const mac of macs) {
        claimed.add(mac);
      }
      const trimmed = { ...enforcement, device: { ...enforcement.device, macs } };
      return { enforcement: trimmed, flows: this.options.model.flowsOf(trimmed) };
    });
    await this.apply(renderTable(this.names, this.options.config.priority, devices));
    const after = await this.readState();
    if (after === undefined || !after.hooks.has('forward') || !after.hooks.has('input')) {
      throw notConfirmed('the restored table has no input and forward hooks', {
        table: this.names.table,
      });
    }
    this.devices.clear();
    for (const { enforcement, flows } of devices) {
      this.confirmDevice(after, enforcement, flows.length + 1);
      this.devices.set(enforcement.device.id, {
        chain: deviceChainName(enforcement.device.id),
        segmentName: enforcement.segmentName,
        decisionId: enforcement.decisionId,
      });
    }
    this.lastState = after;
  }

  inForce(): ReadonlyMap<string, { segmentName: string; decisionId: string }> {
    return new Map(
      [...this.devices].map(([deviceId, record]) => [
        deviceId,
        { segmentName: record.segmentName, decisionId: record.decisionId },
      ]),
    );
  }

  /** Reads medward's table from the kernel; undefined when the table does not exist. */
  async readState(): Promise<TableState | undefined> {
    try {
      const { stdout } = await this.run([
        '-j',
        'list',
        'table',
        this.names.family,
        this.names.table,
      ]);
      return parseTableJson(stdout, this.names.table);
    } catch (error) {
      if (
        error instanceof MedwardError &&
        error.code === 'ENFORCEMENT_NFT_FAILED' &&
        /No such file or directory/.test(error.message)
      ) {
        return undefined;
      }
      throw error;
    }
  }

  /** The segment the kernel enforces for frames from `mac`, read from the ruleset. */
  async segmentOfMac(mac: string): Promise<string | undefined> {
    const state = await this.readState();
    const chain = state?.elements.get(mac);
    return chain === undefined ? undefined : state?.chains.get(chain)?.marker?.segmentName;
  }

  private async apply(lines: readonly string[]): Promise<void> {
    const batch = lines.join('\n') + '\n';
    this.options.logger.debug(
      { table: this.names.table, commands: lines.length },
      'nftables transaction',
    );
    await this.run(['-f', '-'], batch);
  }

  private confirmDevice(
    state: TableState | undefined,
    enforcement: DeviceEnforcement,
    expectedRules: number,
  ): void {
    const chain = deviceChainName(enforcement.device.id);
    const details = { deviceId: enforcement.device.id, chain, decisionId: enforcement.decisionId };
    const chainState = state?.chains.get(chain);
    if (state === undefined || chainState === undefined) {
      throw notConfirmed(`chain ${chain} of device ${enforcement.device.id} is missing`, details);
    }
    if (
      chainState.marker?.segmentName !== enforcement.segmentName ||
      chainState.marker.decisionTag !== decisionTag(enforcement.decisionId) ||
      chainState.ruleCount !== expectedRules
    ) {
      throw notConfirmed(
        `chain ${chain} does not carry segment ${enforcement.segmentName} of decision ${enforcement.decisionId}`,
        details,
      );
    }
    for (const mac of enforcement.device.macs) {
      if (state.elements.get(mac) !== chain) {
        throw notConfirmed(`MAC ${mac} does not lead to chain ${chain}`, { ...details, mac });
      }
    }
  }
}
