import { invalid } from '../../core/errors.js';
import { SbomBuilder, type RawComponent } from './builder.js';
import { FieldReader, childPath, isObject } from './fields.js';
import type { SbomDocument, SbomFinding, SbomHash, SbomLimits } from './types.js';

export const spdxVersions = ['SPDX-2.3'] as const;

/** SPDX relationship types read as dependency edges, and their direction. */
const dependencyRelationships: Readonly<Record<string, 'forward' | 'reverse'>> = {
  DEPENDS_ON: 'forward',
  DEPENDENCY_OF: 'reverse',
  BUILD_DEPENDENCY_OF: 'reverse',
  DEV_DEPENDENCY_OF: 'reverse',
  OPTIONAL_DEPENDENCY_OF: 'reverse',
  PROVIDED_DEPENDENCY_OF: 'reverse',
  RUNTIME_DEPENDENCY_OF: 'reverse',
  TEST_DEPENDENCY_OF: 'reverse',
};

/** Values SPDX uses for "no value", which medward reads as absent. */
const NO_VALUE = new Set(['NOASSERTION', 'NONE']);

/**
 * Reads an SPDX 2.3 JSON document (already parsed): packages become
 * components, the package the document describes becomes the subject, and
 * DEPENDS_ON and the *_DEPENDENCY_OF relationships become dependency edges.
 * Files and snippets are not indexed, but relationships may name them.
 */
export function readSpdx(root: FieldReader, limits: SbomLimits): SbomDocument {
  const findings: SbomFinding[] = [];
  const reader = new FieldReader(root.value, root.path, findings);
  const specVersion = reader.requiredString('spdxVersion');
  if (!(spdxVersions as readonly string[]).includes(specVersion)) {
    throw invalid(
      'SBOM_SPEC_VERSION_UNSUPPORTED',
      `SPDX version ${JSON.stringify(specVersion.slice(0, 20))} is not supported; medward reads SPDX-2.3`,
      { path: reader.pathOf('spdxVersion'), specVersion: specVersion.slice(0, 20) },
    );
  }
  const builder = new SbomBuilder(limits, findings);
  const packages = reader.structuralArray('packages');
  const relationships = reader.structuralArray('relationships');
  const describedIds = describedPackageIds(reader, relationships, findings);

  builder.addOpaqueRef('SPDXRef-DOCUMENT');
  for (const member of ['files', 'snippets']) {
    reader.optionalArray(member).forEach((item) => {
      if (isObject(item) && typeof item.SPDXID === 'string') {
        builder.addOpaqueRef(item.SPDXID);
      }
    });
  }

  const containedBy = containmentParents(relationships);
  const packageReaders = packages.map((item, index) =>
    FieldReader.of(item, childPath(reader.pathOf('packages'), index), findings),
  );
  // The described package goes first, so it is the subject even when it is not listed first.
  // SPDXID is checked as a string in readPackage; here a non-string only means "not described".
  const isDescribed = (item: FieldReader): boolean =>
    typeof item.value.SPDXID === 'string' && describedIds.has(item.value.SPDXID);
  const ordered = [
    ...packageReaders.filter((item) => isDescribed(item)),
    ...packageReaders.filter((item) => !isDescribed(item)),
  ];
  let subjectSet = false;
  for (const item of ordered) {
    const component = readPackage(item, findings);
    const isSubject = !subjectSet && component.ref !== null && describedIds.has(component.ref);
    if (isSubject) {
      builder.setSubject(component);
      subjectSet = true;
    } else {
      const parent = component.ref === null ? null : (containedBy.get(component.ref) ?? null);
      builder.addComponent(component, parent === null ? null : (builder.resolve(parent) ?? null));
    }
  }

  relationships.forEach((item, index) => {
    const relationship = FieldReader.of(
      item,
      childPath(reader.pathOf('relationships'), index),
      findings,
    );
    const type = relationship.optionalString('relationshipType');
    const direction = type === null ? undefined : dependencyRelationships[type];
    if (direction === undefined) {
      return;
    }
    const element = relationship.requiredString('spdxElementId');
    const related = relationship.requiredString('relatedSpdxElement');
    if (NO_VALUE.has(related) || NO_VALUE.has(element)) {
      return;
    }
    for (const [ref, path] of [
      [element, relationship.pathOf('spdxElementId')],
      [related, relationship.pathOf('relatedSpdxElement')],
    ] as const) {
      if (ref.startsWith('DocumentRef-')) {
        findings.push({
          code: 'SBOM_EXTERNAL_REFERENCE',
          message: `${ref} names an element of another SPDX document; edge not followed`,
          path,
        });
        return;
      }
    }
    const forward = direction === 'forward';
    builder.addEdge({
      from: forward ? element : related,
      to: forward ? related : element,
      fromPath: relationship.pathOf(forward ? 'spdxElementId' : 'relatedSpdxElement'),
      toPath: relationship.pathOf(forward ? 'relatedSpdxElement' : 'spdxElementId'),
    });
  });

  const result = builder.result();
  return {
    format: 'spdx',
    specVersion: specVersion.slice('SPDX-'.length),
    serialNumber: reader.optionalString('documentNamespace'),
    documentVersion: 1,
    createdAt: reader.optionalObject('creationInfo')?.optionalString('created') ?? null,
    subject: result.subject,
    components: result.components,
    services: [],
    dependencies: result.dependencies,
    findings,
  };
}

/** SPDXIDs the document describes, from documentDescribes and DESCRIBES relationships. */
function describedPackageIds(
  reader: FieldReader,
  relationships: readonly unknown[],
  findings: SbomFinding[],
): Set<string> {
  const ids = new Set<string>();
  for (const id of reader.optionalArray('documentDescribes')) {
    if (typeof id === 'string') {
      ids.add(id);
    }
  }
  if (ids.size === 0) {
    for (const item of relationships) {
      if (
        isObject(item) &&
        item.relationshipType === 'DESCRIBES' &&
        item.spdxElementId === 'SPDXRef-DOCUMENT' &&
        typeof item.relatedSpdxElement === 'string'
      ) {
        ids.add(item.relatedSpdxElement);
      }
    }
  }
  if (ids.size > 1) {
    findings.push({
      code: 'SBOM_FIELD_IGNORED',
      message: `document describes ${ids.size} packages; the first listed is the subject`,
      path: reader.pathOf('documentDescribes'),
    });
  }
  return ids;
}

/** Parent of each element named by a CONTAINS (or CONTAINED_BY) relationship. */
function containmentParents(relationships: readonly unknown[]): Map<string, string> {
  const parents = new Map<string, string>();
  for (const item of relationships) {
    if (
      !isObject(item) ||
      typeof item.spdxElementId !== 'string' ||
      typeof item.relatedSpdxElement !== 'string'
    ) {
      continue;
    }
    if (item.relationshipType === 'CONTAINS' && !parents.has(item.relatedSpdxElement)) {
      parents.set(item.relatedSpdxElement, item.spdxElementId);
    } else if (item.relationshipType === 'CONTAINED_BY' && !parents.has(item.spdxElementId)) {
      parents.set(item.spdxElementId, item.relatedSpdxElement);
    }
  }
  return parents;
}

function readPackage(reader: FieldReader, findings: SbomFinding[]): RawComponent {
  const ref = reader.requiredString('SPDXID');
  const name = reader.requiredString('name');
  let purl: string | null = null;
  let cpe: string | null = null;
  reader.optionalArray('externalRefs').forEach((item, index) => {
    if (
      !isObject(item) ||
      typeof item.referenceType !== 'string' ||
      typeof item.referenceLocator !== 'string'
    ) {
      findings.push({
        code: 'SBOM_FIELD_IGNORED',
        message:
          'external reference needs string members referenceType and referenceLocator; ignored',
        path: childPath(reader.pathOf('externalRefs'), index),
      });
      return;
    }
    if (item.referenceType === 'purl') {
      purl ??= item.referenceLocator;
    } else if (item.referenceType === 'cpe23Type' || item.referenceType === 'cpe22Type') {
      cpe ??= item.referenceLocator;
    }
  });
  const licenses: string[] = [];
  for (const member of ['licenseConcluded', 'licenseDeclared']) {
    const license = reader.optionalString(member);
    if (license !== null && !NO_VALUE.has(license) && !licenses.includes(license)) {
      licenses.push(license);
    }
  }
  const supplier = reader.optionalString('supplier');
  return {
    ref,
    type: 'library',
    name,
    version: reader.optionalString('versionInfo'),
    group: null,
    purl,
    cpe,
    supplier:
      supplier === null || NO_VALUE.has(supplier)
        ? null
        : supplier.replace(/^(Organization|Person):\s*/, ''),
    licenses,
    hashes: readChecksums(reader, findings),
    path: reader.path,
  };
}

function readChecksums(reader: FieldReader, findings: SbomFinding[]): SbomHash[] {
  const hashes: SbomHash[] = [];
  reader.optionalArray('checksums').forEach((item, index) => {
    if (
      !isObject(item) ||
      typeof item.algorithm !== 'string' ||
      typeof item.checksumValue !== 'string' ||
      !/^[0-9A-Fa-f]{32,128}$/.test(item.checksumValue)
    ) {
      findings.push({
        code: 'SBOM_FIELD_IGNORED',
        message: 'checksum needs an algorithm and 32 to 128 hex digits; ignored',
        path: childPath(reader.pathOf('checksums'), index),
      });
      return;
    }
    hashes.push({ algorithm: item.algorithm, value: item.checksumValue.toLowerCase() });
  });
  return hashes;
}
