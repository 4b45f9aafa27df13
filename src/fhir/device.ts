/**
 * Device resources of the PHD guide (1.1.0): PhdDevice for an agent, from
 * its MDS attributes, and PhgDevice for medward as the gateway.
 */
import { FhirSystem, mderBitSet, PhdCode, PhdProfile } from './codes.js';
import { FhirDecimal } from './fhir-json.js';
import type { PhdDeviceInput } from './input.js';
import { mdcConcept } from './observation.js';
import type {
  CodeableConcept,
  Device,
  DeviceProperty,
  DeviceVersion,
  Identifier,
} from './resources.js';

/** Writes an EUI-64 as the guide's identifier value: 8 hex byte pairs joined by dashes. */
export function formatSystemId(systemId: string): string {
  const hex = systemId.toUpperCase();
  return (hex.match(/../g) ?? []).join('-');
}

export function systemIdIdentifier(systemId: string): Identifier {
  return {
    type: { coding: [{ system: FhirSystem.continuaDeviceIdentifiers, code: 'SYSID' }] },
    system: FhirSystem.ieeeSystemId,
    value: formatSystemId(systemId),
  };
}

function yesNo(set: boolean, text?: string): CodeableConcept {
  const concept: CodeableConcept = {
    coding: [{ system: FhirSystem.yesNo, code: set ? 'Y' : 'N' }],
  };
  if (text !== undefined) {
    concept.text = text;
  }
  return concept;
}

function microseconds(value: number): DeviceProperty['valueQuantity'] {
  return [
    { value: FhirDecimal.fromNumber(value), unit: 'us', system: FhirSystem.ucum, code: 'us' },
  ];
}

const productionSpecNames: readonly string[] = [
  'unspecified',
  'serial-number',
  'part-number',
  'hw-revision',
  'sw-revision',
  'fw-revision',
  'protocol-revision',
  'prod-spec-gmdn',
];

/**
 * Maps Production-Specification: the first serial and part number of the
 * main component (0) go to serialNumber and partNumber, every other entry to
 * a Device.version coded MDC_ID_PROD_SPEC_*, whose component names the
 * component id of entries that are not the main component.
 */
function productionSpec(
  device: PhdDeviceInput,
  resource: Pick<Device, 'serialNumber' | 'partNumber'>,
): DeviceVersion[] {
  const versions: DeviceVersion[] = [];
  for (const entry of device.productionSpec ?? []) {
    if (entry.specType === 1 && entry.componentId === 0 && resource.serialNumber === undefined) {
      resource.serialNumber = entry.value;
      continue;
    }
    if (entry.specType === 2 && entry.componentId === 0 && resource.partNumber === undefined) {
      resource.partNumber = entry.value;
      continue;
    }
    const type =
      entry.specType < productionSpecNames.length
        ? mdcConcept(PhdCode.productionSpecBase + entry.specType)
        : { coding: [], text: `production specification type ${entry.specType}` };
    const version: DeviceVersion = { type, value: entry.value };
    if (entry.componentId !== 0) {
      version.component = {
        system: formatSystemId(device.systemId),
        value: String(entry.componentId),
      };
    }
    versions.push(version);
  }
  return versions;
}

/** Continua version, certified device classes and regulation status from Reg-Cert-Data-List. */
function regCert(device: PhdDeviceInput): {
  versions: DeviceVersion[];
  properties: DeviceProperty[];
} {
  const regCertData = device.regCert;
  const versions: DeviceVersion[] = [];
  const properties: DeviceProperty[] = [];
  if (regCertData === undefined) {
    return { versions, properties };
  }
  if (regCertData.continuaVersion !== undefined) {
    const { major, minor } = regCertData.continuaVersion;
    versions.push({ type: mdcConcept(PhdCode.continuaVersion), value: `${major}.${minor}` });
  }
  if (regCertData.certifiedDevices !== undefined && regCertData.certifiedDevices.length > 0) {
    properties.push({
      type: mdcConcept(PhdCode.continuaCertifiedDevices),
      valueCode: regCertData.certifiedDevices.map((code) => ({
        coding: [{ system: FhirSystem.continuaPhd, code: String(code) }],
      })),
    });
  }
  if (regCertData.regulationStatus !== undefined) {
    const unregulated = mderBitSet(regCertData.regulationStatus, 0, 16);
    properties.push({
      type: {
        coding: [{ system: FhirSystem.asn1ToHl7, code: `${PhdCode.continuaRegulationStatus}.0` }],
        text: 'regulation-status',
      },
      valueCode: [
        yesNo(unregulated, unregulated ? 'device is unregulated' : 'device is regulated'),
      ],
    });
  }
  return { versions, properties };
}

/** Mds-Time-Info bits the guide reports, all static: MDER bits 0-7, 12, 14 and 15. */
const staticTimeCapabilities: readonly (readonly [number, string])[] = [
  [0, 'mds-time-capab-real-time-clock'],
  [1, 'mds-time-capab-set-clock'],
  [2, 'mds-time-capab-relative-time'],
  [3, 'mds-time-capab-high-res-relative-time'],
  [4, 'mds-time-capab-sync-abs-time'],
  [5, 'mds-time-capab-sync-rel-time'],
  [6, 'mds-time-capab-sync-hi-res-relative-time'],
  [7, 'mds-time-capab-bo-time'],
  [12, 'mds-time-capab-sync-bo-time'],
  [14, 'mds-time-state-bo-time-UTC-aligned'],
  [15, 'mds-time-dst-rules-enabled'],
];

/** State bits that are set while a clock is synchronised: abs (8), rel (9), hi-res (10), base-offset (13). */
const syncedStateBits: readonly number[] = [8, 9, 10, 13];

function timeSyncProperty(protocolCode: number): DeviceProperty {
  return { type: mdcConcept(PhdCode.timeSyncProtocol), valueCode: [mdcConcept(protocolCode)] };
}

type TimeInfo = NonNullable<PhdDeviceInput['timeInfo']>;

/** Builds a Y property for each set static capability bit; cleared ones are optional and left out. */
function timeCapabilityProperties(info: TimeInfo): DeviceProperty[] {
  return staticTimeCapabilities
    .filter(([bit]) => mderBitSet(info.capabilities, bit, 16))
    .map(([bit, name]) => ({
      type: {
        coding: [{ system: FhirSystem.asn1ToHl7, code: `${PhdCode.timeCapabilities}.${bit}` }],
        text: name,
      },
      valueCode: [yesNo(true)],
    }));
}

/** Builds the non-zero clock resolutions, in microseconds. */
function clockResolutionProperties(info: TimeInfo): DeviceProperty[] {
  const properties: DeviceProperty[] = [];
  const baseOffsetClock = mderBitSet(info.capabilities, 7, 16);
  if (info.resolutionAbsTime !== 0) {
    // The same field holds the absolute clock's resolution in 1/100 s, or the
    // base-offset clock's in 1/65536 s, where 0xFFFF means one second.
    const resolution = baseOffsetClock
      ? info.resolutionAbsTime === 0xffff
        ? 1_000_000
        : (1_000_000 * info.resolutionAbsTime) / 65536
      : 10_000 * info.resolutionAbsTime;
    const code = baseOffsetClock
      ? PhdCode.baseOffsetTimeResolution
      : PhdCode.absoluteTimeResolution;
    properties.push({ type: mdcConcept(code), valueQuantity: microseconds(resolution) });
  }
  if (info.resolutionRelTime !== 0) {
    properties.push({
      type: mdcConcept(PhdCode.relativeTimeResolution),
      valueQuantity: microseconds(125 * info.resolutionRelTime),
    });
  }
  if (info.resolutionHighResTime !== 0) {
    properties.push({
      type: mdcConcept(PhdCode.highResRelativeTimeResolution),
      valueQuantity: microseconds(info.resolutionHighResTime),
    });
  }
  return properties;
}

/**
 * Maps Mds-Time-Info: the set static capability bits, the synchronisation
 * protocol (MDC_TIME_SYNC_NONE unless a synced state bit is set), the
 * accuracy unless unknown, and the clock resolutions.
 */
function timeInfo(device: PhdDeviceInput): DeviceProperty[] {
  const info = device.timeInfo;
  if (info === undefined) {
    return [];
  }
  const properties = timeCapabilityProperties(info);

  const synced = syncedStateBits.some((bit) => mderBitSet(info.capabilities, bit, 16));
  const protocolCode = 8 * 65536 + info.syncProtocol;
  properties.push(timeSyncProperty(synced ? protocolCode : PhdCode.timeSyncNone));
  if (info.syncAccuracy !== 0xffffffff) {
    properties.push({
      type: mdcConcept(PhdCode.timeSyncAccuracy),
      valueQuantity: microseconds(info.syncAccuracy * 125),
    });
  }

  properties.push(...clockResolutionProperties(info));
  return properties;
}

/** Builds the PhdDevice of an agent. */
export function buildPhdDevice(device: PhdDeviceInput): Device {
  const numbers: Pick<Device, 'serialNumber' | 'partNumber'> = {};
  const versions = productionSpec(device, numbers);
  const certification = regCert(device);
  versions.push(...certification.versions);
  const properties = [...certification.properties, ...timeInfo(device)];
  const present = (text: string | undefined): text is string => text !== undefined && text !== '';
  // Members follow the order of the FHIR Device definition.
  return {
    resourceType: 'Device',
    meta: { profile: [PhdProfile.phdDevice] },
    identifier: [systemIdIdentifier(device.systemId)],
    ...(present(device.manufacturer) ? { manufacturer: device.manufacturer } : {}),
    ...numbers,
    ...(present(device.model) ? { modelNumber: device.model } : {}),
    type: {
      ...mdcConcept(PhdCode.phdDeviceType),
      text: 'MDC_MOC_VMS_MDS_SIMP: personal health device',
    },
    ...(device.specializations.length > 0
      ? {
          specialization: device.specializations.map((entry) =>
            entry.version === undefined
              ? { systemType: mdcConcept(entry.code) }
              : { systemType: mdcConcept(entry.code), version: String(entry.version) },
          ),
        }
      : {}),
    ...(versions.length > 0 ? { version: versions } : {}),
    ...(properties.length > 0 ? { property: properties } : {}),
  };
}

export interface GatewayDescription {
  /** medward's EUI-64 as 16 hex digits. */
  systemId: string;
  /** Full MDC code of the gateway's time synchronisation, MDC_TIME_SYNC_NONE when unsynchronised. */
  timeSyncProtocol: number;
}

/**
 * Builds the PhgDevice of medward. It claims no Continua certification, so
 * the guide's Continua version and certified-interface properties are left
 * out. The generic specialization states that it accepts any 20601 agent.
 */
export function buildPhgDevice(gateway: GatewayDescription): Device {
  return {
    resourceType: 'Device',
    meta: { profile: [PhdProfile.phgDevice] },
    identifier: [systemIdIdentifier(gateway.systemId)],
    manufacturer: 'medward',
    deviceName: [{ name: 'medward', type: 'model-name' }],
    type: {
      ...mdcConcept(PhdCode.phgDeviceType),
      text: 'MDC_MOC_VMS_MDS_AHD: personal health gateway',
    },
    specialization: [{ systemType: mdcConcept(PhdCode.genericSpecialization) }],
    property: [timeSyncProperty(gateway.timeSyncProtocol)],
  };
}
