/**
 * What the manager reads from an agent's MDS after association: identity,
 * certifications and the device clocks, from which it derives the clock
 * offsets of the association.
 */
import type { Ava, MdsTimeInfo } from '../apdu.js';
import { octetStringText } from '../attributes.js';
import { MdcObject as O } from '../nomenclature-table.js';
import { isValidAbsoluteTime, relativeTimeToMs } from '../time.js';
import {
  absoluteTimeToUtcMs,
  baseOffsetTimeToUtcMs,
  type ClockReference,
} from '../store/from-20601.js';

/**
 * MdsTimeCapState bits used by the manager (BITS-16, bit 0 the most
 * significant): bit 0 mds-time-capab-real-time-clock, bit 1
 * mds-time-capab-set-clock, bit 7 mds-time-capab-bo-time.
 * NOTE: the bit positions are those of IEEE 11073-20601 as medward's authors
 * know them; no copy of the standard was at hand to confirm them.
 */
export const MdsTimeCapability = {
  realTimeClock: 0x8000,
  setClock: 0x4000,
  baseOffsetTime: 0x0100,
} as const;

/**
 * The agent clock the manager sets: `absolute` with Set-Time
 * (MDC_ACT_SET_TIME), `base-offset` with Set-Base-Offset-Time
 * (MDC_ACT_SET_BO_TIME).
 */
export type SettableClock = 'absolute' | 'base-offset';

export interface MdsSummary {
  manufacturer?: string;
  modelNumber?: string;
  /** System id the MDS reports, as hex. */
  systemId?: string;
  timeInfo?: MdsTimeInfo;
  /**
   * Production specification, certifications, time info and
   * System-Type-Spec-List of the MDS, JSON-ready.
   */
  details: Record<string, unknown>;
  clock: ClockReference;
}

/**
 * Reads the MDS attributes of a GET response. `gatewayMs` is the gateway UTC
 * time the values refer to: the middle of the GET's round trip.
 */
export function summarizeMds(attributes: readonly Ava[], gatewayMs: number): MdsSummary {
  const summary: MdsSummary = { details: {}, clock: {} };
  for (const { attributeId, value } of attributes) {
    if (value.kind === 'system-model') {
      summary.manufacturer = octetStringText(value.value.manufacturer);
      summary.modelNumber = octetStringText(value.value.modelNumber);
    } else if (value.kind === 'octet-string' && attributeId === O.MDC_ATTR_SYS_ID) {
      summary.systemId = Buffer.from(value.value).toString('hex');
    } else if (value.kind === 'production-spec') {
      summary.details.productionSpecification = value.value.map((entry) => ({
        specType: entry.specType,
        componentId: entry.componentId,
        value: octetStringText(entry.prodSpec),
      }));
    } else if (value.kind === 'reg-cert-data-list') {
      summary.details.regCertDataList = value.value.map((entry) => ({
        authBody: entry.authBody,
        authBodyStrucType: entry.authBodyStrucType,
        authBodyData: Buffer.from(entry.authBodyData).toString('hex'),
      }));
    } else if (value.kind === 'type-ver-list' && attributeId === O.MDC_ATTR_SYS_TYPE_SPEC_LIST) {
      // The specialization term codes (partition INFRA) and versions as the agent sent them.
      summary.details.systemTypeSpecList = value.value.map(({ type, version }) => ({
        type,
        version,
      }));
    } else if (value.kind === 'mds-time-info') {
      summary.timeInfo = value.value;
      summary.details.mdsTimeInfo = value.value;
    } else {
      readClock(summary, attributeId, value, gatewayMs);
    }
  }
  return summary;
}

function readClock(
  summary: MdsSummary,
  attributeId: number,
  value: Ava['value'],
  gatewayMs: number,
): void {
  if (value.kind === 'absolute-time' && attributeId === O.MDC_ATTR_TIME_ABS) {
    if (isValidAbsoluteTime(value.value)) {
      summary.clock.absoluteOffsetMs = Math.round(absoluteTimeToUtcMs(value.value) - gatewayMs);
    }
  } else if (value.kind === 'relative-time' && attributeId === O.MDC_ATTR_TIME_REL) {
    summary.clock.relativeEpochMs = Math.round(gatewayMs - relativeTimeToMs(value.value));
  } else if (
    value.kind === 'high-res-relative-time' &&
    attributeId === O.MDC_ATTR_TIME_REL_HI_RES
  ) {
    summary.clock.highResEpochMs = Math.round(gatewayMs - Number(value.value / 1000n));
  } else if (value.kind === 'base-offset-time' && attributeId === O.MDC_ATTR_TIME_BO) {
    summary.clock.baseOffsetOffsetMs = Math.round(baseOffsetTimeToUtcMs(value.value) - gatewayMs);
  }
}

/**
 * Returns the clock the manager may set, from the agent's Mds-Time-Info:
 * set-clock with bo-time selects the base-offset clock, set-clock with
 * real-time-clock the absolute clock, and anything else none.
 * NOTE: an agent that sets both bo-time and real-time-clock gets
 * Set-Base-Offset-Time, because that action carries UTC and the local offset
 * where Set-Time carries a wall-clock time only.
 */
export function settableClock(timeInfo: MdsTimeInfo | undefined): SettableClock | undefined {
  if (timeInfo === undefined) {
    return undefined;
  }
  const capabilities = timeInfo.mdsTimeCapState;
  if ((capabilities & MdsTimeCapability.setClock) === 0) {
    return undefined;
  }
  if ((capabilities & MdsTimeCapability.baseOffsetTime) !== 0) {
    return 'base-offset';
  }
  return (capabilities & MdsTimeCapability.realTimeClock) !== 0 ? 'absolute' : undefined;
}
