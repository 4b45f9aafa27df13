/**
 * The manager's check of an extended configuration before it answers
 * accepted-config: every metric must be decodable from fixed scan reports and
 * mappable to an observation.
 */
import type {
  AttrValMapEntry,
  AttributeValueKind,
  ConfigObject,
  ConfigReportInfo,
} from '../apdu.js';
import { attributeValueKind, findAttribute } from '../attributes.js';
import { MdcObject as O } from '../nomenclature-table.js';

/** Encoded sizes of the value types whose size is fixed. */
const fixedSizes: Partial<Record<AttributeValueKind, number>> = {
  u16: 2,
  u32: 4,
  'relative-time': 4,
  'high-res-relative-time': 8,
  'absolute-time': 8,
  'base-offset-time': 8,
  type: 4,
  float: 4,
  sfloat: 2,
  'nu-obs-value': 10,
  'metric-structure-small': 2,
  'mds-time-info': 16,
  'sa-spec': 6,
  'bat-measure': 6,
};

/** Smallest encoding of the variable-size types: a length or count header. */
const minimumSizes: Partial<Record<AttributeValueKind, number>> = {
  'octet-string': 2,
  'u16-list': 4,
  'float-list': 4,
  'sfloat-list': 4,
  'nu-obs-value-list': 4,
  'type-list': 4,
  'enum-obs-value': 8,
};

const metricClasses = new Set<number>([
  O.MDC_MOC_VMO_METRIC_NU,
  O.MDC_MOC_VMO_METRIC_ENUM,
  O.MDC_MOC_VMO_METRIC_SA_RT,
]);

/** Objects that carry no observations of their own and need no type or unit. */
const supportObjectClasses = new Set<number>([
  O.MDC_MOC_SCAN,
  O.MDC_MOC_SCAN_CFG,
  O.MDC_MOC_SCAN_CFG_EPI,
  O.MDC_MOC_SCAN_CFG_PERI,
  O.MDC_MOC_VMO_PMSTORE,
]);

function checkValueMap(handle: number, map: readonly AttrValMapEntry[]): string[] {
  const problems: string[] = [];
  if (map.length === 0) {
    problems.push(`handle ${handle} has an empty attribute-value-map`);
  }
  for (const { attributeId, attributeLen } of map) {
    const kind = attributeValueKind(attributeId);
    if (kind === 'raw') {
      problems.push(`handle ${handle} maps attribute ${attributeId}, which medward cannot decode`);
      continue;
    }
    const fixed = fixedSizes[kind];
    const minimum = minimumSizes[kind] ?? 0;
    if (fixed !== undefined && attributeLen !== fixed) {
      problems.push(
        `handle ${handle} maps attribute ${attributeId} (${kind}) with ${attributeLen} bytes instead of ${fixed}`,
      );
    } else if (attributeLen < minimum) {
      problems.push(
        `handle ${handle} maps attribute ${attributeId} (${kind}) with ${attributeLen} bytes, below its minimum of ${minimum}`,
      );
    }
  }
  return problems;
}

/**
 * Checks a metric: it needs a TYPE and an attribute-value-map that the
 * decoder can use, and numerics and sample arrays need a unit. Enumerations
 * have no Unit-Code in IEEE 11073-20601, so none is asked of them.
 */
function checkMetric(object: ConfigObject): string[] {
  const handle = object.objHandle;
  const problems: string[] = [];
  const type = findAttribute(object.attributes, O.MDC_ATTR_ID_TYPE);
  if (type?.kind !== 'type') {
    problems.push(`handle ${handle} has no TYPE attribute`);
  }
  if (object.objClass !== O.MDC_MOC_VMO_METRIC_ENUM) {
    const unit = findAttribute(object.attributes, O.MDC_ATTR_UNIT_CODE);
    if (unit?.kind !== 'u16') {
      problems.push(`handle ${handle} has no Unit-Code attribute`);
    }
  }
  const map = findAttribute(object.attributes, O.MDC_ATTR_ATTRIBUTE_VAL_MAP);
  if (map?.kind !== 'attr-val-map') {
    problems.push(`handle ${handle} has no attribute-value-map for fixed scan reports`);
  } else {
    problems.push(...checkValueMap(handle, map.value));
  }
  return problems;
}

/** Returns what makes a configuration report unsupported; an empty list means supported. */
export function checkConfiguration(report: ConfigReportInfo): string[] {
  const problems: string[] = [];
  if (report.configObjList.length === 0) {
    problems.push('configuration has no objects');
  }
  const handles = new Set<number>();
  for (const object of report.configObjList) {
    const handle = object.objHandle;
    if (handle === 0) {
      problems.push('an object uses handle 0, which belongs to the MDS');
    } else if (handles.has(handle)) {
      problems.push(`handle ${handle} appears twice`);
    }
    handles.add(handle);
    if (metricClasses.has(object.objClass)) {
      problems.push(...checkMetric(object));
    } else if (!supportObjectClasses.has(object.objClass)) {
      problems.push(
        `handle ${handle} has object class ${object.objClass}, which medward does not support`,
      );
    }
  }
  return problems;
}
