/**
 * Extracts observations from decoded scan reports. Fixed and grouped reports
 * carry bare values laid out by the configuration: the object's
 * attribute-value-map, or the scanner's handle-attr-val-map. Variable reports
 * carry attribute ids and take only type and unit from the configuration.
 *
 * Two agent quirks are tolerated and reported, never thrown: values longer
 * than their map announces (the extra bytes are skipped) and handles that the
 * configuration lacks (the observation is skipped). Values shorter than their
 * map and invalid BCD time stamps throw MDER errors with a reject reaction.
 */
import type {
  AttrValMapEntry,
  Ava,
  ConfigObject,
  ConfigReportInfo,
  EventInfo,
  HandleAttrValMapEntry,
  ObservationScan,
  ObservationScanFixed,
} from './apdu.js';
import { readAttributeValue } from './attribute-values.js';
import { attributeValueKind, findAttribute } from './attributes.js';
import { MderReader, type Quirk } from './mder.js';
import { MderErrorCode } from './mder-error.js';
import { typeCode } from './nomenclature.js';
import { MdcObject as O } from './nomenclature-table.js';
import { buildObservation, type MetricDescription, type Observation } from './observations.js';

/**
 * The objects an agent announced (or a standard configuration defines) for a
 * dev-config-id. Extraction caches an index per configuration object, so treat
 * a configuration as immutable once it is used.
 */
export interface Configuration {
  devConfigId: number;
  objects: readonly ConfigObject[];
}

/** An event report, or the result of a data request, whose event information is a scan report. */
export interface ScanReportSource {
  /** Handle of the reporting object: the MDS (0) or a scanner. */
  objHandle: number;
  eventInfo: EventInfo;
}

export interface ObservationResult {
  observations: Observation[];
  quirks: Quirk[];
}

interface ObjectEntry {
  metric: MetricDescription;
  valueMap?: readonly AttrValMapEntry[];
  handleAttrValMap?: readonly HandleAttrValMapEntry[];
}

const indexCache = new WeakMap<Configuration, Map<number, ObjectEntry>>();

export function configurationFromReport(report: ConfigReportInfo): Configuration {
  return { devConfigId: report.configReportId, objects: report.configObjList };
}

function describeMetric(attributes: readonly Ava[]): MetricDescription {
  const metric: MetricDescription = { objClass: 0 };
  const type = findAttribute(attributes, O.MDC_ATTR_ID_TYPE);
  if (type?.kind === 'type') {
    metric.type = typeCode(type.value);
    metric.typePartition = type.value.partition;
  }

  const unit = findAttribute(attributes, O.MDC_ATTR_UNIT_CODE);
  if (unit?.kind === 'u16') {
    metric.unitCode = unit.value;
  }

  const metricIds = findAttribute(attributes, O.MDC_ATTR_ID_PHYSIO_LIST);
  if (metricIds?.kind === 'u16-list') {
    metric.metricIds = metricIds.value;
  }

  const metricIdPartition = findAttribute(attributes, O.MDC_ATTR_METRIC_ID_PART);
  if (metricIdPartition?.kind === 'u16') {
    metric.metricIdPartition = metricIdPartition.value;
  }

  const enumPartition = findAttribute(attributes, O.MDC_ATTR_ENUM_OBS_VAL_PART);
  if (enumPartition?.kind === 'u16') {
    metric.enumPartition = enumPartition.value;
  }
  return metric;
}

function describeObject(object: ConfigObject): ObjectEntry {
  const metric = describeMetric(object.attributes);
  metric.objClass = object.objClass;
  const entry: ObjectEntry = { metric };
  for (const { value } of object.attributes) {
    if (value.kind === 'attr-val-map') {
      entry.valueMap = value.value;
    } else if (value.kind === 'handle-attr-val-map') {
      entry.handleAttrValMap = value.value;
    }
  }
  return entry;
}

function indexOf(configuration: Configuration): Map<number, ObjectEntry> {
  let index = indexCache.get(configuration);
  if (index === undefined) {
    index = new Map();
    for (const object of configuration.objects) {
      index.set(object.objHandle, describeObject(object));
    }
    indexCache.set(configuration, index);
  }
  return index;
}

/**
 * Returns the type, unit and component ids that a configuration gives the
 * object `handle`, or undefined when the configuration has no such object.
 */
export function configuredMetric(
  configuration: Configuration,
  handle: number,
): MetricDescription | undefined {
  return indexOf(configuration).get(handle)?.metric;
}

/** Decodes values laid out by an attribute-value-map; throws when the data is shorter than the map. */
export function readMappedValues(
  reader: MderReader,
  map: readonly AttrValMapEntry[],
  handle: number,
): Ava[] {
  const attributes: Ava[] = [];
  for (const { attributeId, attributeLen } of map) {
    if (reader.remaining < attributeLen) {
      throw reader.fail(
        MderErrorCode.Truncated,
        'obs-val-data',
        `value of handle ${handle} ends before the ${attributeLen}-byte attribute ${attributeId} of its attribute-value-map`,
        attributeLen,
      );
    }
    reader.enter(attributeLen, 'obs-val-data');
    attributes.push({
      attributeId,
      value: readAttributeValue(reader, attributeValueKind(attributeId), attributeId),
    });
    reader.leave('obs-val-data');
  }
  return attributes;
}

function longerThanMap(handle: number | undefined, extra: number): Quirk {
  const subject = handle === undefined ? 'grouped observation' : `value of handle ${handle}`;
  return {
    code: 'VALUE_LONGER_THAN_MAP',
    message: `${subject} is ${extra} bytes longer than its attribute-value-map announces`,
    ...(handle === undefined ? {} : { handle }),
    bytes: extra,
  };
}

function missingHandle(handle: number): Quirk {
  return {
    code: 'HANDLE_NOT_IN_CONFIGURATION',
    message: `handle ${handle} is not an object of the configuration; its values are skipped`,
    handle,
  };
}

function noValueMap(handle: number): Quirk {
  return {
    code: 'VALUE_MAP_MISSING',
    message: `handle ${handle} has no attribute-value-map in the configuration; its fixed values are skipped`,
    handle,
  };
}

class Extraction {
  readonly observations: Observation[] = [];
  readonly quirks: Quirk[] = [];

  constructor(private readonly index: Map<number, ObjectEntry>) {}

  fixed(list: readonly ObservationScanFixed[], personId?: number): void {
    for (const { objHandle, obsValData } of list) {
      const entry = this.index.get(objHandle);
      if (entry?.valueMap === undefined) {
        this.quirks.push(entry === undefined ? missingHandle(objHandle) : noValueMap(objHandle));
        continue;
      }
      const reader = new MderReader(obsValData);
      const attributes = readMappedValues(reader, entry.valueMap, objHandle);
      if (reader.remaining > 0) {
        this.quirks.push(longerThanMap(objHandle, reader.remaining));
      }
      this.add(objHandle, entry, attributes, personId);
    }
  }

  variable(list: readonly ObservationScan[], personId?: number): void {
    for (const { objHandle, attributes } of list) {
      const entry = this.index.get(objHandle);
      if (entry === undefined) {
        this.quirks.push(missingHandle(objHandle));
        continue;
      }
      this.add(objHandle, entry, attributes, personId);
    }
  }

  grouped(scannerHandle: number, data: Uint8Array, personId?: number): void {
    const map = this.index.get(scannerHandle)?.handleAttrValMap;
    if (map === undefined) {
      this.quirks.push({
        code: 'SCANNER_NOT_IN_CONFIGURATION',
        message: `scanner ${scannerHandle} has no handle-attr-val-map in the configuration; its report is skipped`,
        handle: scannerHandle,
      });
      return;
    }
    const reader = new MderReader(data);
    for (const { objHandle, attrValMap } of map) {
      const attributes = readMappedValues(reader, attrValMap, objHandle);
      const entry = this.index.get(objHandle);
      if (entry === undefined) {
        this.quirks.push(missingHandle(objHandle));
      } else {
        this.add(objHandle, entry, attributes, personId);
      }
    }
    if (reader.remaining > 0) {
      this.quirks.push(longerThanMap(undefined, reader.remaining));
    }
  }

  private add(handle: number, entry: ObjectEntry, attributes: Ava[], personId?: number): void {
    this.observations.push(
      buildObservation(handle, entry.metric, attributes, this.quirks, personId),
    );
  }
}

function extractInto(extraction: Extraction, objHandle: number, info: EventInfo): void {
  switch (info.kind) {
    case 'scan-fixed':
      extraction.fixed(info.obsScanFixed);
      return;
    case 'scan-var':
      extraction.variable(info.obsScanVar);
      return;
    case 'scan-grouped':
      for (const data of info.obsScanGrouped) {
        extraction.grouped(objHandle, data);
      }
      return;
    case 'scan-mp-fixed':
      for (const entry of info.scanPerFixed) {
        extraction.fixed(entry.obsScanFixed, entry.personId);
      }
      return;
    case 'scan-mp-var':
      for (const entry of info.scanPerVar) {
        extraction.variable(entry.obsScanVar, entry.personId);
      }
      return;
    case 'scan-mp-grouped':
      for (const entry of info.scanPerGrouped) {
        extraction.grouped(objHandle, entry.obsScanGrouped, entry.personId);
      }
      return;
    case 'config-report':
    case 'segment-data':
    case 'raw':
      return;
  }
}

/**
 * Returns the observations of a scan report under a configuration, with the
 * quirks found. Event information that is no scan report yields none.
 */
export function extractObservations(
  configuration: Configuration,
  report: ScanReportSource,
): ObservationResult {
  const extraction = new Extraction(indexOf(configuration));
  extractInto(extraction, report.objHandle, report.eventInfo);
  return { observations: extraction.observations, quirks: extraction.quirks };
}
