import { invalid } from '../../core/errors.js';
import { SbomBuilder, type RawComponent } from './builder.js';
import { FieldReader, childPath, describeType, isObject } from './fields.js';
import type { SbomDocument, SbomFinding, SbomHash, SbomLimits } from './types.js';

/** CycloneDX JSON versions medward reads; their component and dependency shapes agree. */
export const cycloneDxVersions = ['1.4', '1.5', '1.6'] as const;

const componentTypes = new Set([
  'application',
  'framework',
  'library',
  'container',
  'platform',
  'operating-system',
  'device',
  'device-driver',
  'firmware',
  'file',
  'machine-learning-model',
  'data',
  'cryptographic-asset',
]);

/**
 * Reads a CycloneDX 1.4 to 1.6 JSON document (already parsed) into medward's
 * form: metadata.component becomes the subject, nested components and
 * services are flattened with their parent's ref, and the dependency graph is
 * rewritten onto the surviving components.
 */
export function readCycloneDx(root: FieldReader, limits: SbomLimits): SbomDocument {
  const findings: SbomFinding[] = [];
  const reader = new FieldReader(root.value, root.path, findings);
  const specVersion = readSpecVersion(reader);
  const builder = new SbomBuilder(limits, findings);

  const metadata = reader.optionalObject('metadata');
  let subjectRef: string | null = null;
  const subject = metadata?.optionalObject('component') ?? null;
  if (subject !== null) {
    subjectRef = builder.setSubject(readComponent(subject, findings));
    addNested(builder, subject, subjectRef, findings);
  }

  reader.structuralArray('components').forEach((item, index) => {
    const component = FieldReader.of(item, reader.pathOf('components') + `[${index}]`, findings);
    addComponentTree(builder, component, null, findings);
  });
  reader.structuralArray('services').forEach((item, index) => {
    addServiceTree(
      builder,
      FieldReader.of(item, childPath(reader.pathOf('services'), index), findings),
      null,
      findings,
    );
  });

  reader.structuralArray('dependencies').forEach((item, index) => {
    const entry = FieldReader.of(item, childPath(reader.pathOf('dependencies'), index), findings);
    const ref = entry.requiredString('ref');
    const dependsOn = entry.optionalArray('dependsOn');
    if (dependsOn.length === 0) {
      builder.addEdge({
        from: ref,
        to: null,
        fromPath: entry.pathOf('ref'),
        toPath: entry.pathOf('ref'),
      });
    }
    dependsOn.forEach((target, targetIndex) => {
      const targetPath = childPath(entry.pathOf('dependsOn'), targetIndex);
      if (typeof target !== 'string') {
        findings.push({
          code: 'SBOM_FIELD_IGNORED',
          message: `expected a bom-ref string, got ${describeType(target)}; ignored`,
          path: targetPath,
        });
        return;
      }
      builder.addEdge({ from: ref, to: target, fromPath: entry.pathOf('ref'), toPath: targetPath });
    });
  });

  const result = builder.result();
  return {
    format: 'cyclonedx',
    specVersion,
    serialNumber: reader.optionalString('serialNumber'),
    documentVersion: readDocumentVersion(reader),
    createdAt: metadata?.optionalString('timestamp') ?? null,
    subject: result.subject,
    components: result.components,
    services: result.services,
    dependencies: result.dependencies,
    findings,
  };
}

function readSpecVersion(reader: FieldReader): string {
  const raw = reader.value.specVersion;
  // Some generators write the version as a JSON number; 1.5 and "1.5" mean the same.
  const specVersion = typeof raw === 'number' ? raw.toFixed(1) : raw;
  if (typeof specVersion !== 'string') {
    throw invalid(
      'SBOM_SPEC_VERSION_UNSUPPORTED',
      `CycloneDX specVersion is missing or not a string at ${reader.pathOf('specVersion')}; ` +
        `medward reads ${cycloneDxVersions.join(', ')}`,
      { path: reader.pathOf('specVersion') },
    );
  }
  if (!(cycloneDxVersions as readonly string[]).includes(specVersion)) {
    throw invalid(
      'SBOM_SPEC_VERSION_UNSUPPORTED',
      `CycloneDX specVersion ${JSON.stringify(specVersion.slice(0, 20))} is not supported; ` +
        `medward reads ${cycloneDxVersions.join(', ')}`,
      { path: reader.pathOf('specVersion'), specVersion: specVersion.slice(0, 20) },
    );
  }
  if (typeof raw === 'number') {
    reader.ignored('specVersion', 'a number where a string belongs; read as its text');
  }
  return specVersion;
}

function readDocumentVersion(reader: FieldReader): number {
  const version = reader.value.version;
  if (version === undefined) {
    return 1;
  }
  if (typeof version === 'number' && Number.isSafeInteger(version) && version >= 1) {
    return version;
  }
  reader.ignored('version', 'BOM version must be a positive integer; read as 1');
  return 1;
}

function addComponentTree(
  builder: SbomBuilder,
  reader: FieldReader,
  parentRef: string | null,
  findings: SbomFinding[],
): void {
  const ref = builder.addComponent(readComponent(reader, findings), parentRef);
  addNested(builder, reader, ref, findings);
}

function addNested(
  builder: SbomBuilder,
  reader: FieldReader,
  parentRef: string,
  findings: SbomFinding[],
): void {
  reader.structuralArray('components').forEach((item, index) => {
    addComponentTree(
      builder,
      FieldReader.of(item, childPath(reader.pathOf('components'), index), findings),
      parentRef,
      findings,
    );
  });
}

function addServiceTree(
  builder: SbomBuilder,
  reader: FieldReader,
  parentRef: string | null,
  findings: SbomFinding[],
): void {
  const endpoints = reader
    .optionalArray('endpoints')
    .filter((endpoint): endpoint is string => typeof endpoint === 'string');
  const ref = builder.addService(
    {
      ref: reader.optionalString('bom-ref'),
      name: reader.requiredString('name'),
      version: reader.optionalString('version'),
      endpoints,
      authenticated: reader.optionalBoolean('authenticated'),
      crossesTrustBoundary: reader.optionalBoolean('x-trust-boundary'),
      path: reader.path,
    },
    parentRef,
  );
  reader.structuralArray('services').forEach((item, index) => {
    addServiceTree(
      builder,
      FieldReader.of(item, childPath(reader.pathOf('services'), index), findings),
      ref,
      findings,
    );
  });
}

function readComponent(reader: FieldReader, findings: SbomFinding[]): RawComponent {
  const name = reader.requiredString('name');
  let type = reader.optionalString('type');
  if (type === null) {
    findings.push({
      code: 'SBOM_COMPONENT_TYPE_MISSING',
      message: `component ${name} has no type; read as library`,
      path: reader.pathOf('type'),
    });
    type = 'library';
  } else if (!componentTypes.has(type)) {
    reader.ignored(
      'type',
      `component type ${JSON.stringify(type.slice(0, 40))} is not a CycloneDX type; read as library`,
    );
    type = 'library';
  }
  const supplier = reader.optionalObject('supplier')?.optionalString('name') ?? null;
  const manufacturer = reader.optionalObject('manufacturer')?.optionalString('name') ?? null;
  return {
    ref: reader.optionalString('bom-ref'),
    type,
    name,
    version: reader.optionalString('version'),
    group: reader.optionalString('group'),
    purl: reader.optionalString('purl'),
    cpe: reader.optionalString('cpe'),
    supplier: supplier ?? manufacturer ?? reader.optionalString('publisher'),
    licenses: readLicenses(reader, findings),
    hashes: readHashes(reader, findings),
    path: reader.path,
  };
}

/**
 * Reads the licence choices CycloneDX allows ({license: {id}}, {license:
 * {name}}, {expression}) and tolerates bare strings, which some tools write.
 */
function readLicenses(reader: FieldReader, findings: SbomFinding[]): string[] {
  const licenses: string[] = [];
  reader.optionalArray('licenses').forEach((item, index) => {
    const path = childPath(reader.pathOf('licenses'), index);
    if (typeof item === 'string' && item.trim() !== '') {
      findings.push({
        code: 'SBOM_FIELD_IGNORED',
        message: 'licence given as a bare string; read as its name',
        path,
      });
      licenses.push(item);
      return;
    }
    if (!isObject(item)) {
      findings.push({
        code: 'SBOM_FIELD_IGNORED',
        message: `expected a licence choice object, got ${describeType(item)}; ignored`,
        path,
      });
      return;
    }
    const choice = new FieldReader(item, path, findings);
    const expression = choice.optionalString('expression');
    const license = choice.optionalObject('license');
    const text =
      expression ?? license?.optionalString('id') ?? license?.optionalString('name') ?? null;
    if (text === null) {
      findings.push({
        code: 'SBOM_FIELD_IGNORED',
        message: 'licence choice has no id, name or expression; ignored',
        path,
      });
      return;
    }
    if (!licenses.includes(text)) {
      licenses.push(text);
    }
  });
  return licenses;
}

function readHashes(reader: FieldReader, findings: SbomFinding[]): SbomHash[] {
  const hashes: SbomHash[] = [];
  reader.optionalArray('hashes').forEach((item, index) => {
    const path = childPath(reader.pathOf('hashes'), index);
    if (!isObject(item) || typeof item.alg !== 'string' || typeof item.content !== 'string') {
      findings.push({
        code: 'SBOM_FIELD_IGNORED',
        message: 'hash needs string members alg and content; ignored',
        path,
      });
      return;
    }
    if (!/^[0-9A-Fa-f]{32,128}$/.test(item.content)) {
      findings.push({
        code: 'SBOM_FIELD_IGNORED',
        message: 'hash content is not 32 to 128 hex digits; ignored',
        path,
      });
      return;
    }
    hashes.push({ algorithm: item.alg, value: item.content.toLowerCase() });
  });
  return hashes;
}
