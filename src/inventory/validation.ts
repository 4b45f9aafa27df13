import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { invalid } from '../core/errors.js';
import { describeSchemaError } from '../core/schema-problems.js';
import {
  DeviceCreateSchema,
  DevicePatchSchema,
  type DeviceCreateInput,
  type DevicePatch,
} from './schema.js';

export interface ValidationProblem {
  /** JSON Pointer of the value that failed, relative to the input. */
  path: string;
  message: string;
}

const compiledCreate = TypeCompiler.Compile(DeviceCreateSchema);
const compiledPatch = TypeCompiler.Compile(DevicePatchSchema);

/** Lists the schema violations of `value`, one per path, with the allowed values of enumerations. */
export function collectSchemaProblems<T extends TSchema>(
  check: TypeCheck<T>,
  value: unknown,
): ValidationProblem[] {
  // The compiled check is fast; listing errors walks the schema and runs only on failure.
  if (check.Check(value)) {
    return [];
  }
  const byPath = new Map<string, string>();
  for (const error of check.Errors(value)) {
    if (byPath.has(error.path)) {
      continue;
    }
    byPath.set(error.path, describeSchemaError(error.schema, error.message));
  }
  return [...byPath].map(([path, message]) => ({ path, message }));
}

function rejectInvalid(problems: ValidationProblem[]): never {
  throw invalid(
    'INVENTORY_DEVICE_INVALID',
    `device input is invalid at ${problems.map((p) => p.path || '/').join(', ')}; ` +
      'correct the listed fields and retry',
    { problems },
  );
}

/** Checks untrusted create input against the schema and narrows it. */
export function assertDeviceCreateInput(value: unknown): asserts value is DeviceCreateInput {
  const problems = collectSchemaProblems(compiledCreate, value);
  if (problems.length > 0) {
    rejectInvalid(problems);
  }
}

/** Checks untrusted update input against the schema and narrows it. */
export function assertDevicePatch(value: unknown): asserts value is DevicePatch {
  const problems = collectSchemaProblems(compiledPatch, value);
  if (problems.length > 0) {
    rejectInvalid(problems);
  }
}

/** Rejects with INVENTORY_DEVICE_INVALID when `problems` is not empty. */
export function rejectProblems(problems: ValidationProblem[]): void {
  if (problems.length > 0) {
    rejectInvalid(problems);
  }
}

/** Lowercase colon form of a MAC address already matching MAC_ADDRESS_PATTERN. */
export function normaliseMacAddress(text: string): string {
  const hex = text.replace(/[^0-9A-Fa-f]/g, '').toLowerCase();
  return hex.match(/../g)?.join(':') ?? hex;
}

/**
 * Problems of a device's MAC address list: multicast or all-zero addresses
 * (an interface's own address is unicast) and duplicates after normalisation.
 */
export function macAddressProblems(normalised: readonly string[]): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const seen = new Set<string>();
  normalised.forEach((mac, index) => {
    const path = `/macAddresses/${index}`;
    const firstOctet = Number.parseInt(mac.slice(0, 2), 16);
    if ((firstOctet & 1) === 1) {
      problems.push({ path, message: `${mac} is a multicast address, not an interface address` });
    } else if (mac === '00:00:00:00:00:00') {
      problems.push({ path, message: 'the all-zero MAC address identifies no interface' });
    } else if (seen.has(mac)) {
      problems.push({ path, message: `${mac} is listed twice` });
    }
    seen.add(mac);
  });
  return problems;
}

/** 16 lowercase hex digits. */
export function normaliseSystemId(text: string): string {
  return text.toLowerCase();
}

/** 64 lowercase hex digits, without separators. */
export function normaliseFingerprint(text: string): string {
  return text.replace(/:/g, '').toLowerCase();
}
