export { readSbom } from './read-sbom.js';
export { cycloneDxVersions } from './cyclonedx.js';
export { spdxVersions } from './spdx.js';
export {
  defaultSbomLimits,
  type SbomComponent,
  type SbomDependency,
  type SbomDocument,
  type SbomFinding,
  type SbomFindingCode,
  type SbomFormat,
  type SbomHash,
  type SbomLimits,
  type SbomService,
} from './types.js';
