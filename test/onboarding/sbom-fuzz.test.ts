import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isMedwardError } from '../../src/core/errors.js';
import { readSbom, type SbomDocument } from '../../src/onboarding/sbom/index.js';

/** Runs the reader and fails the property on any throw other than a MedwardError. */
function readOrMedwardError(input: Parameters<typeof readSbom>[0]): SbomDocument | undefined {
  try {
    return readSbom(input, { maxBytes: 256 * 1024, maxDepth: 32, maxComponents: 500 });
  } catch (error) {
    assert.ok(isMedwardError(error), `readSbom threw ${String(error)}`);
    assert.equal(typeof error.details.path, 'string', `${error.code} carries no JSON path`);
    return undefined;
  }
}

/** Every ref the graph names must resolve once the reader returns. */
function assertGraphResolves(document: SbomDocument): void {
  const known = new Set<string>([
    ...document.components.map((c) => c.ref),
    ...document.services.map((s) => s.ref),
  ]);
  if (document.subject !== null) {
    known.add(document.subject.ref);
  }
  for (const entry of document.dependencies) {
    assert.ok(known.has(entry.ref));
    for (const target of entry.dependsOn) {
      assert.ok(known.has(target));
    }
  }
}

const refPool = fc.constantFrom('a', 'b', 'c', 'pkg:npm/x@1', 'svc', 'missing');
const looseString = fc.oneof(refPool, fc.string({ maxLength: 12 }));
const anyJson = fc.jsonValue({ maxDepth: 3 });

const { component: componentLike } = fc.letrec<{ component: unknown }>((tie) => ({
  component: fc.oneof(
    { depthSize: 'small' },
    fc.record(
      {
        type: fc.oneof(fc.constantFrom('library', 'firmware', 'nonsense'), anyJson),
        name: fc.oneof(looseString, anyJson),
        version: fc.oneof(looseString, fc.integer(), anyJson),
        'bom-ref': fc.oneof(refPool, anyJson),
        purl: fc.oneof(fc.constantFrom('pkg:npm/x@1', 'pkg:npm/y@2', 'nope'), anyJson),
        licenses: fc.oneof(
          fc.array(
            fc.oneof(
              fc.record({ license: fc.record({ id: looseString }, { requiredKeys: [] }) }),
              fc.record({ expression: looseString }),
              anyJson,
            ),
            { maxLength: 3 },
          ),
          anyJson,
        ),
        hashes: fc.oneof(fc.array(fc.record({ alg: looseString, content: looseString })), anyJson),
        components: fc.oneof(fc.array(tie('component'), { maxLength: 3 }), anyJson),
      },
      { requiredKeys: [] },
    ),
    anyJson,
  ),
}));

const cycloneDxLike = fc.record(
  {
    bomFormat: fc.constant('CycloneDX'),
    specVersion: fc.oneof(fc.constantFrom('1.4', '1.5', '1.6'), anyJson),
    version: anyJson,
    metadata: fc.oneof(fc.record({ component: componentLike }, { requiredKeys: [] }), anyJson),
    components: fc.oneof(fc.array(componentLike, { maxLength: 6 }), anyJson),
    services: fc.oneof(
      fc.array(
        fc.record(
          { name: looseString, 'bom-ref': refPool, endpoints: anyJson, authenticated: anyJson },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      anyJson,
    ),
    dependencies: fc.oneof(
      fc.array(
        fc.record(
          { ref: fc.oneof(refPool, anyJson), dependsOn: fc.oneof(fc.array(refPool), anyJson) },
          { requiredKeys: [] },
        ),
        { maxLength: 6 },
      ),
      anyJson,
    ),
  },
  { requiredKeys: ['bomFormat', 'specVersion'] },
);

const spdxLike = fc.record(
  {
    spdxVersion: fc.oneof(fc.constant('SPDX-2.3'), looseString),
    documentDescribes: anyJson,
    packages: fc.oneof(
      fc.array(
        fc.record(
          {
            SPDXID: fc.oneof(refPool, anyJson),
            name: looseString,
            versionInfo: anyJson,
            externalRefs: anyJson,
            checksums: anyJson,
          },
          { requiredKeys: [] },
        ),
        { maxLength: 5 },
      ),
      anyJson,
    ),
    relationships: fc.oneof(
      fc.array(
        fc.record(
          {
            spdxElementId: fc.oneof(refPool, anyJson),
            relationshipType: fc.constantFrom(
              'DEPENDS_ON',
              'DEPENDENCY_OF',
              'CONTAINS',
              'DESCRIBES',
            ),
            relatedSpdxElement: fc.oneof(refPool, fc.constant('NONE'), anyJson),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 6 },
      ),
      anyJson,
    ),
  },
  { requiredKeys: ['spdxVersion'] },
);

test('random JSON throws only MedwardError', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      readOrMedwardError(JSON.stringify(value));
      readOrMedwardError({ json: value });
    }),
    { numRuns: 500 },
  );
});

test('random bytes throw only MedwardError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      readOrMedwardError(bytes);
    }),
    { numRuns: 500 },
  );
});

test('SBOM-shaped documents keep graph consistent', () => {
  fc.assert(
    fc.property(fc.oneof(cycloneDxLike, spdxLike), (value) => {
      const document = readOrMedwardError(JSON.stringify(value));
      if (document !== undefined) {
        assertGraphResolves(document);
      }
    }),
    { numRuns: 1000 },
  );
});

test('truncated fixtures throw only MedwardError', () => {
  const text = readFileSync(
    new URL('./fixtures/cyclonedx-1.5-infusion-pump.json', import.meta.url),
    'utf8',
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: text.length }),
      fc.string({ maxLength: 4 }),
      (cut, tail) => {
        readOrMedwardError(text.slice(0, cut) + tail);
      },
    ),
    { numRuns: 300 },
  );
});
