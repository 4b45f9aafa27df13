/**
 * Decode rate of the IEEE 11073-20601 MDER codec on one core, per APDU kind.
 * The AARQ, configuration and fixed scan report are public 20601/10415
 * example APDUs; the variable and grouped scan reports are built here with
 * the encoder. Each rate runs 3 s after a 0.5 s warm-up.
 */
import {
  MdcObject as O,
  configurationFromReport,
  decodeApdu,
  encodeApdu,
  extractObservations,
  finiteNumber,
  type Ava,
} from '../src/ieee11073/index.js';
import { measureRate, type Benchmark, type Figure } from './harness.js';

const durationMs = 3000;
const warmupMs = 500;
const fixedScanTarget = 300_000;

function bytesOf(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

const aarq = bytesOf(
  'e2000032800000000001002a5079002680000000a0008000000000000000008000000008887766554433221140000081010100000000',
);

const configReport = bytesOf(
  'e70000a200a012350101009a0000ffffffff0d1c009040000003008a0006000100040024092f00040002e1400a460002f0400996000206c30a55000c000200080a560004099000080006000200040024092f00040002e1440a460002f0480996000205110a55000c000200080a56000409900008000600030005002a092f00040002e1500a460002f0420996000207a00a47000200010a55000c000200080a56000409900008',
);

const fixedScan = bytesOf(
  'e700005a00581236010100520000000000000d1d0048f0000000000400400001000cff0002fa20071206121000000003000cff0000f320071206121000000001000cff0002f820071206200500000003000cff0000f22007120620050000',
);

const timeStamp = {
  century: 20,
  year: 7,
  month: 12,
  day: 6,
  hour: 12,
  minute: 10,
  second: 0,
  secFractions: 0,
};

function varObservation(
  objHandle: number,
  mantissa: number,
): { objHandle: number; attributes: Ava[] } {
  return {
    objHandle,
    attributes: [
      {
        attributeId: O.MDC_ATTR_NU_VAL_OBS_SIMP,
        value: { kind: 'float', value: finiteNumber(mantissa, -1) },
      },
      {
        attributeId: O.MDC_ATTR_TIME_STAMP_ABS,
        value: { kind: 'absolute-time', value: timeStamp },
      },
    ],
  };
}

const varScan = encodeApdu({
  kind: 'prst',
  data: {
    invokeId: 0x1237,
    message: {
      kind: 'roiv-confirmed-event-report',
      objHandle: 0,
      eventTime: 0,
      eventType: O.MDC_NOTI_SCAN_REPORT_VAR,
      eventInfo: {
        kind: 'scan-var',
        dataReqId: 0xf000,
        scanReportNo: 1,
        obsScanVar: [varObservation(1, 762), varObservation(3, 243)],
      },
    },
  },
});

const groupedScan = encodeApdu({
  kind: 'prst',
  data: {
    invokeId: 0x1238,
    message: {
      kind: 'roiv-event-report',
      objHandle: 5,
      eventTime: 0,
      eventType: O.MDC_NOTI_BUF_SCAN_REPORT_GROUPED,
      eventInfo: {
        kind: 'scan-grouped',
        dataReqId: 0xf000,
        scanReportNo: 2,
        obsScanGrouped: [bytesOf('ff0002faf16f'), bytesOf('ff0002f8f170'), bytesOf('ff0002f6f171')],
      },
    },
  },
});

function decodeRate(bytes: Uint8Array): number {
  decodeApdu(bytes);
  return measureRate(() => decodeApdu(bytes), durationMs, warmupMs);
}

function extractionRate(): number {
  const config = decodeApdu(configReport).apdu;
  if (config.kind !== 'prst' || config.data.message.kind !== 'roiv-confirmed-event-report') {
    throw new Error('the configuration report example did not decode to an event report');
  }
  const info = config.data.message.eventInfo;
  if (info.kind !== 'config-report') {
    throw new Error('the configuration report example carries no configuration');
  }
  const configuration = configurationFromReport(info);
  return measureRate(
    () => {
      const { apdu } = decodeApdu(fixedScan);
      if (apdu.kind === 'prst' && apdu.data.message.kind === 'roiv-confirmed-event-report') {
        extractObservations(configuration, apdu.data.message);
      }
    },
    durationMs,
    warmupMs,
  );
}

export const benchmark: Benchmark = {
  name: 'ieee11073-decode',
  description:
    'Decodes per second of one MDER APDU on one core, by APDU kind (decodeApdu on a ' +
    'preloaded buffer, 3 s after a 0.5 s warm-up), and decode plus observation extraction ' +
    'of the 10415 fixed scan report with four entries.',
  run(): Promise<Figure[]> {
    const figures: Figure[] = [
      { name: 'AARQ (54 B)', value: decodeRate(aarq), unit: 'decodes/s' },
      {
        name: 'config report, 3 objects (166 B)',
        value: decodeRate(configReport),
        unit: 'decodes/s',
      },
      {
        name: 'fixed scan report, 4 entries (94 B)',
        value: decodeRate(fixedScan),
        unit: 'decodes/s',
        target: { comparison: '>=', value: fixedScanTarget },
      },
      {
        name: `variable scan report, 2 objects (${varScan.byteLength} B)`,
        value: decodeRate(varScan),
        unit: 'decodes/s',
      },
      {
        name: `grouped scan report, 3 groups (${groupedScan.byteLength} B)`,
        value: decodeRate(groupedScan),
        unit: 'decodes/s',
      },
      { name: 'fixed scan report with extraction', value: extractionRate(), unit: 'reports/s' },
    ];
    return Promise.resolve(figures);
  },
};
