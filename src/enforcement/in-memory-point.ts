import type { DeviceEnforcement, EnforcementPoint, EnforcementState } from './types.js';

/**
 * Enforcement held in memory only: the embedded default, where no network
 * device enforces anything, and a real point for unit tests of callers.
 * Lookups by MAC show what a network point would do with a frame.
 */
export class InMemoryEnforcementPoint implements EnforcementPoint {
  readonly name = 'in-memory';
  private readonly devices = new Map<string, DeviceEnforcement>();
  private readonly deviceByMac = new Map<string, string>();

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  enforce(enforcement: DeviceEnforcement): Promise<void> {
    this.drop(enforcement.device.id);
    this.devices.set(enforcement.device.id, enforcement);
    for (const mac of enforcement.device.macs) {
      const holder = this.deviceByMac.get(mac);
      if (holder !== undefined && holder !== enforcement.device.id) {
        // A MAC moved to another device: it follows its new owner.
        const previous = this.devices.get(holder);
        if (previous !== undefined) {
          this.devices.set(holder, {
            ...previous,
            device: { ...previous.device, macs: previous.device.macs.filter((m) => m !== mac) },
          });
        }
      }
      this.deviceByMac.set(mac, enforcement.device.id);
    }
    return Promise.resolve();
  }

  remove(deviceId: string): Promise<void> {
    this.drop(deviceId);
    return Promise.resolve();
  }

  restore(state: EnforcementState): Promise<void> {
    this.devices.clear();
    this.deviceByMac.clear();
    for (const enforcement of state.devices) {
      void this.enforce(enforcement);
    }
    return Promise.resolve();
  }

  inForce(): ReadonlyMap<string, { segmentName: string; decisionId: string }> {
    const result = new Map<string, { segmentName: string; decisionId: string }>();
    for (const [deviceId, enforcement] of this.devices) {
      result.set(deviceId, {
        segmentName: enforcement.segmentName,
        decisionId: enforcement.decisionId,
      });
    }
    return result;
  }

  /** The enforcement that applies to frames from `mac`, if any. */
  lookupMac(mac: string): DeviceEnforcement | undefined {
    const deviceId = this.deviceByMac.get(mac);
    return deviceId === undefined ? undefined : this.devices.get(deviceId);
  }

  private drop(deviceId: string): void {
    const existing = this.devices.get(deviceId);
    if (existing === undefined) {
      return;
    }
    for (const mac of existing.device.macs) {
      if (this.deviceByMac.get(mac) === deviceId) {
        this.deviceByMac.delete(mac);
      }
    }
    this.devices.delete(deviceId);
  }
}
