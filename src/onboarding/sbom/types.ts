/** Bounds applied to an SBOM before and while it is read. */
export interface SbomLimits {
  /** Size of the encoded document. */
  maxBytes: number;
  /** Nesting of JSON objects and arrays, the root counting as depth 1. */
  maxDepth: number;
  /** Components (and SPDX packages) after flattening nested ones, before de-duplication. */
  maxComponents: number;
}

export const defaultSbomLimits: SbomLimits = {
  maxBytes: 4 * 1024 * 1024,
  maxDepth: 64,
  maxComponents: 10_000,
};

export type SbomFormat = 'cyclonedx' | 'spdx';

export interface SbomHash {
  algorithm: string;
  value: string;
}

/** A component (CycloneDX) or package (SPDX), flattened out of its parents. */
export interface SbomComponent {
  /** bom-ref (CycloneDX) or SPDXID (SPDX); generated as `medward:component:<n>` when absent. */
  ref: string;
  /** CycloneDX component type (library, firmware, ...); `library` for SPDX packages. */
  type: string;
  name: string;
  version: string | null;
  group: string | null;
  purl: string | null;
  cpe: string | null;
  supplier: string | null;
  /** SPDX license identifiers, license names or expressions, as written. */
  licenses: string[];
  hashes: SbomHash[];
  /** Ref of the component this one was nested in, or null at the top level. */
  parentRef: string | null;
  /** JSON path where the surviving copy was found, for example `$.components[2].components[0]`. */
  path: string;
}

/** A CycloneDX service (an API the device offers or calls). */
export interface SbomService {
  ref: string;
  name: string;
  version: string | null;
  endpoints: string[];
  authenticated: boolean | null;
  crossesTrustBoundary: boolean | null;
  parentRef: string | null;
  path: string;
}

export interface SbomDependency {
  ref: string;
  dependsOn: string[];
}

export type SbomFindingCode =
  | 'SBOM_DUPLICATE_COMPONENT'
  | 'SBOM_CONFLICTING_DUPLICATE'
  | 'SBOM_DANGLING_REFERENCE'
  | 'SBOM_EXTERNAL_REFERENCE'
  | 'SBOM_FIELD_IGNORED'
  | 'SBOM_COMPONENT_TYPE_MISSING';

/** Something in the document that was accepted with a correction, or left out. */
export interface SbomFinding {
  code: SbomFindingCode;
  message: string;
  /** JSON path of the value concerned. */
  path: string;
}

/** An SBOM in medward's form, whichever format it arrived in. */
export interface SbomDocument {
  format: SbomFormat;
  /** `1.4`, `1.5`, `1.6` for CycloneDX, `2.3` for SPDX. */
  specVersion: string;
  /** CycloneDX serialNumber (`urn:uuid:...`) or the SPDX documentNamespace. */
  serialNumber: string | null;
  /** CycloneDX `version` of the BOM; 1 for SPDX. */
  documentVersion: number;
  createdAt: string | null;
  /** The thing the SBOM describes: CycloneDX metadata.component or the SPDX described package. */
  subject: SbomComponent | null;
  /** Every other component, nested ones flattened, one per bom-ref and purl. */
  components: SbomComponent[];
  services: SbomService[];
  /** Dependency graph over refs of the subject, components and services; every ref resolves. */
  dependencies: SbomDependency[];
  findings: SbomFinding[];
}
