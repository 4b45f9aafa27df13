import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isMedwardError } from '../../src/core/errors.js';
import { readSbom, type SbomDocument, type SbomLimits } from '../../src/onboarding/sbom/index.js';

function fixture(name: string): Buffer {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
}

function componentByRef(document: SbomDocument, ref: string) {
  const component = document.components.find((item) => item.ref === ref);
  assert.ok(component, `component ${ref} is missing`);
  return component;
}

function dependsOn(document: SbomDocument, ref: string): string[] | undefined {
  return document.dependencies.find((entry) => entry.ref === ref)?.dependsOn;
}

function findingsOf(document: SbomDocument, code: string): string[] {
  return document.findings
    .filter((finding) => finding.code === code)
    .map((finding) => finding.path);
}

function rejectsWith(run: () => unknown, code: string, path?: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(isMedwardError(error), `expected a MedwardError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (path !== undefined) {
      assert.equal(error.details.path, path);
    }
    return true;
  });
}

describe('CycloneDX 1.5 firmware SBOM', () => {
  const document = readSbom(fixture('cyclonedx-1.5-infusion-pump.json'));

  test('reads document metadata', () => {
    assert.equal(document.format, 'cyclonedx');
    assert.equal(document.specVersion, '1.5');
    assert.equal(document.documentVersion, 3);
    assert.equal(document.serialNumber, 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79');
    assert.equal(document.createdAt, '2026-10-02T08:14:55Z');
  });

  test('metadata component becomes subject', () => {
    assert.equal(document.subject?.ref, 'firmware:lp-420');
    assert.equal(document.subject.type, 'firmware');
    assert.equal(document.subject.supplier, 'Lumen Pumps GmbH');
    assert.deepEqual(document.subject.hashes, [
      {
        algorithm: 'SHA-256',
        value: '9f2c1b7a3d8e4f6051a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708',
      },
    ]);
  });

  test('nested components are flattened', () => {
    assert.equal(componentByRef(document, 'bootloader').parentRef, 'firmware:lp-420');
    assert.equal(componentByRef(document, 'pkg:generic/busybox@1.36.1').parentRef, 'rootfs');
    assert.equal(componentByRef(document, 'openssl-3').parentRef, 'rootfs');
    assert.equal(componentByRef(document, 'openssl-3').path, '$.components[0].components[1]');
    assert.equal(componentByRef(document, 'rootfs').parentRef, null);
  });

  test('duplicates merge into first', () => {
    const refs = document.components.map((component) => component.ref);
    assert.equal(refs.filter((ref) => ref === 'zlib').length, 1);
    assert.ok(!refs.includes('openssl-from-vendor-sdk'));
    assert.equal(document.components.length, 8);
    const zlib = componentByRef(document, 'zlib');
    assert.equal(zlib.cpe, 'cpe:2.3:a:zlib:zlib:1.3.1:*:*:*:*:*:*:*');
    assert.deepEqual(zlib.licenses, ['zlib License', 'Zlib']);
    assert.deepEqual(findingsOf(document, 'SBOM_DUPLICATE_COMPONENT'), [
      '$.components[2]',
      '$.components[3]',
    ]);
  });

  test('references rewritten to survivor', () => {
    assert.deepEqual(dependsOn(document, 'openssl-3'), ['zlib']);
    assert.deepEqual(dependsOn(document, 'hl7-adapter'), ['openssl-3']);
    assert.deepEqual(dependsOn(document, 'rootfs'), [
      'pkg:generic/busybox@1.36.1',
      'openssl-3',
      'zlib',
    ]);
    assert.deepEqual(dependsOn(document, 'zlib'), []);
    assert.equal(dependsOn(document, 'openssl-from-vendor-sdk'), undefined);
  });

  test('dangling references become findings', () => {
    assert.deepEqual(findingsOf(document, 'SBOM_DANGLING_REFERENCE'), [
      '$.dependencies[3].dependsOn[1]',
      '$.dependencies[5].ref',
    ]);
    assert.equal(dependsOn(document, 'removed-telemetry-agent'), undefined);
    const known = new Set([
      document.subject?.ref,
      ...document.components.map((c) => c.ref),
      ...document.services.map((s) => s.ref),
    ]);
    for (const entry of document.dependencies) {
      assert.ok(known.has(entry.ref), `dependency ref ${entry.ref} does not resolve`);
      for (const target of entry.dependsOn) {
        assert.ok(known.has(target), `dependsOn ${target} does not resolve`);
      }
    }
  });

  test('services indexed with nesting', () => {
    assert.deepEqual(
      document.services.map((service) => [service.ref, service.parentRef]),
      [
        ['svc:pump-api', null],
        ['svc:pump-api-events', 'svc:pump-api'],
      ],
    );
    assert.equal(document.services[0]?.authenticated, true);
    assert.equal(document.services[0].crossesTrustBoundary, true);
    assert.equal(document.services[1]?.authenticated, null);
    assert.deepEqual(dependsOn(document, 'svc:pump-api'), ['openssl-3', 'svc:pump-api-events']);
  });

  test('licence variants are read', () => {
    assert.deepEqual(componentByRef(document, 'rootfs').licenses, [
      'GPL-2.0-only WITH Linux-syscall-note',
    ]);
    assert.deepEqual(componentByRef(document, 'openssl-3').licenses, ['Apache-2.0']);
    assert.ok(findingsOf(document, 'SBOM_FIELD_IGNORED').includes('$.components[3].licenses[0]'));
  });

  test('ill-typed members become findings', () => {
    const pumpControl = document.components.find((c) => c.name === 'pump-control');
    assert.equal(pumpControl?.version, '7');
    assert.match(pumpControl.ref, /^medward:component:\d+$/);
    const hl7 = componentByRef(document, 'hl7-adapter');
    assert.equal(hl7.type, 'library');
    assert.equal(hl7.purl, null);
    assert.deepEqual(findingsOf(document, 'SBOM_COMPONENT_TYPE_MISSING'), ['$.components[6].type']);
    const ignored = findingsOf(document, 'SBOM_FIELD_IGNORED');
    assert.ok(ignored.includes('$.components[4].version'));
    assert.ok(ignored.includes('$.components[6].purl'));
    assert.ok(ignored.includes('$.services[0].services[0].authenticated'));
  });
});

describe('CycloneDX 1.4 scanner SBOM', () => {
  const document = readSbom(fixture('cyclonedx-1.4-scanner.json'));

  test('purl duplicate rewrites its refs', () => {
    const express = document.components.filter((c) => c.name === 'express');
    assert.equal(express.length, 1);
    assert.equal(express[0]?.ref, 'pkg:npm/express@4.19.2?package-id=1f20');
    assert.deepEqual(dependsOn(document, 'af63bd4c8601b7f1'), [
      'pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12&package-id=8a1c',
      'pkg:npm/express@4.19.2?package-id=1f20',
    ]);
    assert.deepEqual(dependsOn(document, 'pkg:npm/express@4.19.2?package-id=1f20'), []);
    assert.deepEqual(findingsOf(document, 'SBOM_DANGLING_REFERENCE'), []);
  });

  test('publisher and licence names read', () => {
    const libc = document.components.find((c) => c.name === 'libc6');
    assert.equal(libc?.supplier, 'GNU Libc Maintainers <debian-glibc@lists.debian.org>');
    assert.deepEqual(libc.licenses, ['GPL-2.0', 'LGPL-2.1']);
    assert.equal(document.subject?.type, 'container');
  });

  test('malformed hash left out', () => {
    assert.deepEqual(document.components.find((c) => c.name === 'express')?.hashes, []);
    assert.ok(findingsOf(document, 'SBOM_FIELD_IGNORED').includes('$.components[2].hashes[0]'));
  });
});

describe('CycloneDX 1.6 device SBOM', () => {
  const document = readSbom(fixture('cyclonedx-1.6-monitor.json'));

  test('subject tree and duplicates', () => {
    assert.equal(document.specVersion, '1.6');
    assert.equal(document.subject?.ref, 'device:pm-9');
    assert.equal(document.subject.supplier, 'Cardia Systems');
    const mbedtls = document.components.filter((c) => c.name === 'mbedtls');
    assert.equal(mbedtls.length, 1);
    assert.equal(mbedtls[0]?.parentRef, 'fw:pm-9-main');
    assert.equal(
      document.components.find((c) => c.ref === 'crypto:ecdsa-p256')?.type,
      'cryptographic-asset',
    );
    assert.deepEqual(dependsOn(document, 'fw:pm-9-main'), [
      'lib:mbedtls',
      'lib:lwip',
      'lib:freertos',
    ]);
    assert.deepEqual(componentByRef(document, 'lib:lwip').licenses, ['BSD-3-Clause']);
  });
});

describe('SPDX 2.3 SBOM', () => {
  const document = readSbom(fixture('spdx-2.3-ventilator.json'));

  test('described package is subject', () => {
    assert.equal(document.format, 'spdx');
    assert.equal(document.specVersion, '2.3');
    assert.equal(document.subject?.ref, 'SPDXRef-Package-controller');
    assert.equal(
      document.subject.hashes[0]?.value,
      '5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8',
    );
    assert.deepEqual(document.subject.licenses, []);
  });

  test('packages and relationships read', () => {
    assert.deepEqual(
      document.components.map((c) => c.ref),
      ['SPDXRef-Package-zephyr', 'SPDXRef-Package-tinycbor'],
    );
    const zephyr = componentByRef(document, 'SPDXRef-Package-zephyr');
    assert.equal(zephyr.purl, 'pkg:github/zephyrproject-rtos/zephyr@v3.6.0');
    assert.equal(zephyr.cpe, 'cpe:2.3:o:zephyrproject:zephyr:3.6.0:*:*:*:*:*:*:*');
    assert.equal(zephyr.supplier, 'Zephyr Project');
    assert.deepEqual(dependsOn(document, 'SPDXRef-Package-controller'), [
      'SPDXRef-Package-zephyr',
      'SPDXRef-Package-tinycbor',
    ]);
  });

  test('dangling and external refs reported', () => {
    assert.deepEqual(findingsOf(document, 'SBOM_DANGLING_REFERENCE'), [
      '$.relationships[4].relatedSpdxElement',
    ]);
    assert.deepEqual(findingsOf(document, 'SBOM_EXTERNAL_REFERENCE'), [
      '$.relationships[5].relatedSpdxElement',
    ]);
  });
});

describe('SBOM rejections', () => {
  const minimal = (extra: Record<string, unknown>): string =>
    JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', ...extra });

  test('invalid JSON rejected', () => {
    rejectsWith(() => readSbom('{"bomFormat": "CycloneDX",'), 'SBOM_JSON_INVALID', '$');
  });

  test('invalid UTF-8 rejected', () => {
    rejectsWith(() => readSbom(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 'SBOM_ENCODING_INVALID');
  });

  test('unknown format rejected', () => {
    rejectsWith(() => readSbom('{"components": []}'), 'SBOM_FORMAT_UNKNOWN', '$');
    rejectsWith(() => readSbom('[1, 2]'), 'SBOM_INVALID', '$');
  });

  test('unsupported versions rejected', () => {
    rejectsWith(
      () => readSbom(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.3' })),
      'SBOM_SPEC_VERSION_UNSUPPORTED',
      '$.specVersion',
    );
    rejectsWith(
      () => readSbom(JSON.stringify({ spdxVersion: 'SPDX-2.2', SPDXID: 'SPDXRef-DOCUMENT' })),
      'SBOM_SPEC_VERSION_UNSUPPORTED',
      '$.spdxVersion',
    );
  });

  test('object SPDXID rejected by path', () => {
    // An object with its own toString once made String() throw a TypeError.
    const document = { spdxVersion: 'SPDX-2.3', packages: [{ SPDXID: { toString: '' } }] };
    rejectsWith(() => readSbom(JSON.stringify(document)), 'SBOM_INVALID', '$.packages[0].SPDXID');
  });

  test('structural errors name path', () => {
    rejectsWith(() => readSbom(minimal({ components: {} })), 'SBOM_INVALID', '$.components');
    rejectsWith(
      () =>
        readSbom(
          minimal({
            components: [{ type: 'library', name: 'a', components: [{ type: 'library' }] }],
          }),
        ),
      'SBOM_INVALID',
      '$.components[0].components[0].name',
    );
    rejectsWith(
      () => readSbom(minimal({ dependencies: [{ dependsOn: ['a'] }] })),
      'SBOM_INVALID',
      '$.dependencies[0].ref',
    );
    rejectsWith(
      () =>
        readSbom(
          minimal({ components: [{ type: 'library', name: 'a', 'bom-ref': 3 }], services: [7] }),
        ),
      'SBOM_INVALID',
      '$.services[0]',
    );
  });

  test('oversized document rejected', () => {
    const padding = 'x'.repeat(2048);
    const text = minimal({ components: [{ type: 'library', name: padding }] });
    const limits: SbomLimits = { maxBytes: 1024, maxDepth: 64, maxComponents: 100 };
    assert.throws(
      () => readSbom(text, limits),
      (error: unknown) =>
        isMedwardError(error) && error.code === 'SBOM_TOO_LARGE' && error.kind === 'too-large',
    );
  });

  test('deep nesting rejected before parse', () => {
    rejectsWith(() => readSbom('['.repeat(200_000)), 'SBOM_TOO_DEEP', '$');
    let nested: Record<string, unknown> = { type: 'library', name: 'leaf' };
    for (let level = 0; level < 40; level += 1) {
      nested = { type: 'library', name: `level-${level}`, components: [nested] };
    }
    rejectsWith(() => readSbom(minimal({ components: [nested] })), 'SBOM_TOO_DEEP', '$');
  });

  test('brackets inside strings ignored', () => {
    const document = readSbom(
      minimal({ components: [{ type: 'library', name: '[[[[{{{{'.repeat(100) }] }),
    );
    assert.equal(document.components.length, 1);
  });

  test('too many components rejected', () => {
    const components = Array.from({ length: 12 }, (_, index) => ({
      type: 'library',
      name: `c${index}`,
    }));
    assert.throws(
      () => readSbom(minimal({ components }), { maxBytes: 1e6, maxDepth: 64, maxComponents: 10 }),
      (error: unknown) =>
        isMedwardError(error) &&
        error.code === 'SBOM_TOO_MANY_COMPONENTS' &&
        error.details.path === '$.components[10]',
    );
  });

  test('parsed input checked too', () => {
    const document = readSbom({ json: JSON.parse(minimal({ components: [] })) as unknown });
    assert.equal(document.components.length, 0);
    rejectsWith(() => readSbom({ json: undefined }), 'SBOM_JSON_INVALID');
  });
});
