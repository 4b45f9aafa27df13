/**
 * A confirmed fixed scan report APDU written again for each report of a
 * simulated agent. Only the invoke id, event-time, scan report number,
 * values and absolute time stamps change between reports. In a fixed scan
 * report none of them changes a length, so each report is a copy of the
 * template with those fields written over it.
 */
import { decodeApdu } from '../decode.js';

/** One value of the template's observation scans, in report order. */
export interface TemplateValue {
  /** How long before the report's measurement time the value was measured. */
  readingAgeMs: number;
  /** Whether an AbsoluteTime follows the value in its obs-val-data. */
  timeStamped: boolean;
  /** Writes the value of report `sequence` at `offset`; returns the offset after it. */
  write(target: Buffer, offset: number, sequence: number): number;
}

/** Offset of the invoke id in a PRST APDU: APDU choice, length, octet string length. */
const INVOKE_ID_OFFSET = 6;

export class FixedReportTemplate {
  private readonly valueOffsets: number[];
  private readonly eventTimeOffset: number;
  private readonly scanReportNoOffset: number;
  private cachedTimeMs = Number.NaN;
  private readonly cachedTime = Buffer.alloc(8);

  /**
   * `bytes` is a confirmed event report with a fixed scan report holding
   * `values` in order. Its invoke id, event-time and scan report number
   * should differ from 0, because the constructor finds their offsets by
   * reading them back, and throws when they do not match.
   */
  constructor(
    private readonly bytes: Buffer,
    private readonly values: readonly TemplateValue[],
  ) {
    const { apdu } = decodeApdu(bytes);
    const data = apdu.kind === 'prst' ? apdu.data : undefined;
    const message = data?.message.kind === 'roiv-confirmed-event-report' ? data.message : undefined;
    const info = message?.eventInfo;
    if (data === undefined || message === undefined || info?.kind !== 'scan-fixed') {
      throw new Error('report template is not a confirmed event report with a fixed scan report');
    }
    if (info.obsScanFixed.length !== values.length || values.length === 0) {
      throw new Error(
        `report template has ${info.obsScanFixed.length} observation scans; expected ${values.length}`,
      );
    }
    // Decoded obs-val-data are views into `bytes`, so their offsets are the values' offsets.
    this.valueOffsets = info.obsScanFixed.map(
      (scan) => scan.obsValData.byteOffset - bytes.byteOffset,
    );
    // ScanReportInfoFixed: data-req-id, scan-report-no, then the list's count
    // and length, then each scan's handle and obs-val-data length.
    const firstScanOffset = (this.valueOffsets[0] ?? 0) - 4;
    this.scanReportNoOffset = firstScanOffset - 6;
    // EventReportArgumentSimple: obj-handle, event-time, event-type, then the
    // event-info length and the ScanReportInfoFixed.
    this.eventTimeOffset = this.scanReportNoOffset - 2 - 2 - 2 - 4;
    if (
      bytes.readUInt16BE(INVOKE_ID_OFFSET) !== data.invokeId ||
      bytes.readUInt32BE(this.eventTimeOffset) !== message.eventTime ||
      bytes.readUInt16BE(this.scanReportNoOffset) !== info.scanReportNo
    ) {
      throw new Error('report template fields are not where a fixed scan report puts them');
    }
  }

  /** Returns report `sequence` with its last reading measured at `measuredAtMs` on the agent's clock. */
  encode(invokeId: number, eventTime: number, sequence: number, measuredAtMs: number): Buffer {
    const target = Buffer.allocUnsafe(this.bytes.byteLength);
    this.bytes.copy(target);
    target.writeUInt16BE(invokeId & 0xffff, INVOKE_ID_OFFSET);
    target.writeUInt32BE(eventTime >>> 0, this.eventTimeOffset);
    target.writeUInt16BE(sequence & 0xffff, this.scanReportNoOffset);
    for (let index = 0; index < this.values.length; index += 1) {
      const value = this.values[index];
      const offset = this.valueOffsets[index];
      if (value === undefined || offset === undefined) {
        continue;
      }
      const next = value.write(target, offset, sequence);
      if (value.timeStamped) {
        this.absoluteTime(measuredAtMs - value.readingAgeMs).copy(target, next);
      }
    }
    return target;
  }

  /** Encodes `ms` as the 8 BCD bytes that `encodeAbsoluteTime` writes, reusing the last result for the same `ms`. */
  private absoluteTime(ms: number): Buffer {
    if (ms !== this.cachedTimeMs) {
      const date = new Date(ms);
      const year = date.getUTCFullYear();
      if (!(year >= 0 && year <= 9999)) {
        throw new RangeError(`time ${ms} ms is outside the years 0 to 9999 of AbsoluteTime`);
      }
      const fields = [
        Math.floor(year / 100),
        year % 100,
        date.getUTCMonth() + 1,
        date.getUTCDate(),
        date.getUTCHours(),
        date.getUTCMinutes(),
        date.getUTCSeconds(),
        Math.floor(date.getUTCMilliseconds() / 10),
      ];
      fields.forEach((field, index) => {
        this.cachedTime[index] = Math.floor(field / 10) * 16 + (field % 10);
      });
      this.cachedTimeMs = ms;
    }
    return this.cachedTime;
  }
}
