import type { EventBus } from '../../core/bus/index.js';
import type { Component } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Device, InventoryService } from '../../inventory/index.js';
import { ONBOARDING_ALERT_SUBJECT, type OnboardingAlert } from '../events.js';
import { onboardingStates } from './transitions.js';

export interface StuckStateCheckerOptions {
  inventory: InventoryService;
  logger: Logger;
  /** Time a device may stay in one onboarding state. */
  timeoutMs: number;
  checkIntervalMs: number;
  bus?: EventBus;
  now?: () => Date;
}

export interface StuckDevice {
  deviceId: string;
  state: string;
  since: string;
  version: number;
}

/**
 * Raises an alert (`onboarding.alert`, kind `stuck-state`) for each device
 * that stayed in an onboarding state (provisioning to configured) longer than
 * the timeout. Each device version is reported once; a device that moves on
 * and gets stuck again is reported again.
 */
export class StuckStateChecker implements Component {
  readonly name = 'onboarding-stuck-state-checker';
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<StuckDevice[]> | undefined;
  private readonly reported = new Set<string>();
  private readonly now: () => Date;

  constructor(private readonly options: StuckStateCheckerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  start(): Promise<void> {
    this.timer = setInterval(() => {
      this.check().catch((error: unknown) => {
        this.options.logger.error({ err: error }, 'stuck-state check failed');
      });
    }, this.options.checkIntervalMs);
    this.timer.unref();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.checking?.catch(() => undefined);
  }

  /** Runs one check and returns the devices newly reported as stuck. */
  check(): Promise<StuckDevice[]> {
    this.checking ??= this.checkNow().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async checkNow(): Promise<StuckDevice[]> {
    const deadline = this.now().getTime() - this.options.timeoutMs;
    const stuck: StuckDevice[] = [];
    for (const state of onboardingStates) {
      let cursor: string | undefined;
      do {
        const page = await this.options.inventory.list({
          state,
          limit: 500,
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const device of page.items) {
          if (Date.parse(device.updatedAt) <= deadline && this.firstReport(device)) {
            stuck.push({
              deviceId: device.id,
              state: device.state,
              since: device.updatedAt,
              version: device.version,
            });
          }
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
    }
    for (const device of stuck) {
      await this.alert(device);
    }
    return stuck;
  }

  private firstReport(device: Device): boolean {
    const key = `${device.id}:${device.version}`;
    if (this.reported.has(key)) {
      return false;
    }
    this.reported.add(key);
    return true;
  }

  private async alert(device: StuckDevice): Promise<void> {
    const minutes = Math.round(this.options.timeoutMs / 60_000);
    const reason =
      `device ${device.deviceId} is in state ${device.state} since ${device.since}, longer than ${minutes} min; ` +
      'check its enrolment or registration';
    this.options.logger.warn(
      { deviceId: device.deviceId, state: device.state, since: device.since },
      'device stuck in onboarding state',
    );
    if (this.options.bus === undefined) {
      return;
    }
    const alert: OnboardingAlert = {
      kind: 'stuck-state',
      reason,
      deviceId: device.deviceId,
      state: device.state,
      raisedAt: this.now().toISOString(),
    };
    try {
      await this.options.bus.publish(ONBOARDING_ALERT_SUBJECT, alert, {
        msgId: `stuck:${device.deviceId}:${device.version}`,
      });
    } catch (error) {
      this.options.logger.warn(
        { err: error, deviceId: device.deviceId },
        'stuck-state alert not published',
      );
    }
  }
}
