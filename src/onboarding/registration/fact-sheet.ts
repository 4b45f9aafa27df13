import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { invalid } from '../../core/errors.js';
import type { SoftwareComponent } from '../../inventory/index.js';
import type { SbomDocument } from '../sbom/index.js';

const Sha256 = Type.String({
  pattern: '^[0-9a-f]{64}$',
  description: 'SHA-256, 64 lowercase hex digits',
});

/**
 * The facts a device reports about itself after enrolment: its model and
 * firmware, its network interfaces, the services it offers, its MUD URL
 * (RFC 8520) and its SBOM as CycloneDX or SPDX JSON.
 */
export const FactSheetSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 128 }),
    firmwareVersion: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[^\\u0000-\\u001f\\u007f]+$',
    }),
    /** SHA-256 of the firmware image, compared on later reports to detect drift. */
    firmwareSha256: Type.Optional(Sha256),
    interfaces: Type.Array(
      Type.Object(
        {
          name: Type.Optional(
            Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9._-]+$' }),
          ),
          mac: Type.String({ pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$' }),
          kind: Type.Union([Type.Literal('wired'), Type.Literal('wireless')]),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 16 },
    ),
    services: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' }),
            port: Type.Integer({ minimum: 1, maximum: 65535 }),
            protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp')]),
          },
          { additionalProperties: false },
        ),
        { maxItems: 64 },
      ),
    ),
    // TODO: fetch the MUD file, verify and compile it (enforcement's compileMudFile) into mudFlows.
    /** RFC 8520 MUD URL, recorded with the registration. */
    mudUrl: Type.Optional(Type.String({ maxLength: 2048, pattern: '^https://[^\\s]+$' })),
    /** The configuration hash the device holds, when it registers again. */
    configurationSha256: Type.Optional(Sha256),
    /** CycloneDX (1.4 to 1.6) or SPDX 2.3 JSON document. */
    sbom: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type FactSheet = Static<typeof FactSheetSchema>;

const factSheetCheck = TypeCompiler.Compile(FactSheetSchema);

/** Checks an untrusted fact sheet; raises REGISTRATION_FACT_SHEET_INVALID naming each bad path. */
export function parseFactSheet(value: unknown): FactSheet {
  if (factSheetCheck.Check(value)) {
    return value;
  }
  const problems = [...factSheetCheck.Errors(value)].slice(0, 10).map((error) => ({
    path: error.path || '/',
    message: error.message,
  }));
  throw invalid(
    'REGISTRATION_FACT_SHEET_INVALID',
    `fact sheet is invalid at ${problems.map((problem) => problem.path).join(', ')}: ${problems[0]?.message ?? ''}`,
    { problems },
  );
}

/** The inventory's limit on software components per device. */
const MAX_COMPONENTS = 1000;
// eslint-disable-next-line no-control-regex -- rejects control characters, as the inventory schema does
const TEXT = /^[^\u0000-\u001f\u007f]+$/;
const PURL = /^pkg:[A-Za-z][A-Za-z0-9.+-]*\/\S+$/;
const CPE = /^cpe:(?:2\.3:|\/)\S+$/;

/**
 * Turns an SBOM into the inventory's software component list: the first
 * 1000 components with a usable name, a version (`unspecified` when the SBOM
 * gives none), and their purl and CPE where these are well formed.
 */
export function softwareComponentsOf(document: SbomDocument): {
  components: SoftwareComponent[];
  omitted: number;
} {
  const components: SoftwareComponent[] = [];
  let omitted = 0;
  for (const component of document.components) {
    const name = component.group === null ? component.name : `${component.group}/${component.name}`;
    const version = component.version ?? 'unspecified';
    if (
      components.length >= MAX_COMPONENTS ||
      name.length > 214 ||
      !TEXT.test(name) ||
      version.length > 128 ||
      !TEXT.test(version)
    ) {
      omitted += 1;
      continue;
    }
    components.push({
      name,
      version,
      ...(component.purl !== null && component.purl.length <= 2048 && PURL.test(component.purl)
        ? { purl: component.purl }
        : {}),
      ...(component.cpe !== null && component.cpe.length <= 2048 && CPE.test(component.cpe)
        ? { cpe: component.cpe }
        : {}),
    });
  }
  return { components, omitted };
}
