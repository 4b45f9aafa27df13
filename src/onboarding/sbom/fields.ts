import { invalid } from '../../core/errors.js';
import type { SbomFinding } from './types.js';

export type JsonObject = Record<string, unknown>;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Appends a member to a JSON path: `$.components`, `$.components[3]`, `$["bom-ref"]`. */
export function childPath(path: string, member: string | number): string {
  if (typeof member === 'number') {
    return `${path}[${member}]`;
  }
  return IDENTIFIER.test(member) ? `${path}.${member}` : `${path}[${JSON.stringify(member)}]`;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeType(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  return Array.isArray(value) ? 'array' : typeof value;
}

/** Raises SBOM_INVALID naming the path, for values the reader cannot do without. */
export function structureError(path: string, message: string): never {
  throw invalid('SBOM_INVALID', `SBOM is invalid at ${path}: ${message}`, { path });
}

/**
 * Reads members of one JSON object. Required members that are missing or of
 * the wrong type raise SBOM_INVALID with their path. Optional members of the
 * wrong type are ignored with a finding, because real-world generators get
 * them wrong without the rest of the document being wrong.
 */
export class FieldReader {
  constructor(
    readonly value: JsonObject,
    readonly path: string,
    private readonly findings: SbomFinding[],
  ) {}

  static of(value: unknown, path: string, findings: SbomFinding[]): FieldReader {
    if (!isObject(value)) {
      structureError(path, `expected an object, got ${describeType(value)}`);
    }
    return new FieldReader(value, path, findings);
  }

  pathOf(member: string | number): string {
    return childPath(this.path, member);
  }

  requiredString(member: string): string {
    const value = this.value[member];
    if (typeof value !== 'string' || value.trim() === '') {
      structureError(
        this.pathOf(member),
        value === undefined
          ? 'required member is missing'
          : `expected a non-empty string, got ${describeType(value)}`,
      );
    }
    return value;
  }

  /** A string member; numbers are accepted as their decimal text, since generators emit versions as numbers. */
  optionalString(member: string): string | null {
    const value = this.value[member];
    if (value === undefined || value === null) {
      return null;
    }
    if (typeof value === 'string') {
      return value.trim() === '' ? null : value;
    }
    if (typeof value === 'number' && Number.isFinite(value)) {
      this.ignored(member, 'a number where a string belongs; read as its decimal text');
      return String(value);
    }
    this.ignored(member, `expected a string, got ${describeType(value)}; member ignored`);
    return null;
  }

  optionalBoolean(member: string): boolean | null {
    const value = this.value[member];
    if (value === undefined || value === null) {
      return null;
    }
    if (typeof value === 'boolean') {
      return value;
    }
    this.ignored(member, `expected a boolean, got ${describeType(value)}; member ignored`);
    return null;
  }

  /** An array member; anything else than an array is ignored with a finding. */
  optionalArray(member: string): unknown[] {
    const value = this.value[member];
    if (value === undefined || value === null) {
      return [];
    }
    if (Array.isArray(value)) {
      return value;
    }
    this.ignored(member, `expected an array, got ${describeType(value)}; member ignored`);
    return [];
  }

  /** An array member that structures the document, so a wrong type is an error. */
  structuralArray(member: string): unknown[] {
    const value = this.value[member];
    if (value === undefined || value === null) {
      return [];
    }
    if (!Array.isArray(value)) {
      structureError(this.pathOf(member), `expected an array, got ${describeType(value)}`);
    }
    return value;
  }

  optionalObject(member: string): FieldReader | null {
    const value = this.value[member];
    if (value === undefined || value === null) {
      return null;
    }
    if (isObject(value)) {
      return new FieldReader(value, this.pathOf(member), this.findings);
    }
    this.ignored(member, `expected an object, got ${describeType(value)}; member ignored`);
    return null;
  }

  /** Records a finding for a member that was corrected or left out. */
  ignored(member: string | number, message: string): void {
    this.findings.push({ code: 'SBOM_FIELD_IGNORED', message, path: this.pathOf(member) });
  }
}
