/**
 * Shared helpers of the IEEE 11073-20601 codec tests: the public APDU fixture
 * and small accessors that narrow decoded APDUs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  decodeApdu,
  type Apdu,
  type DataMessage,
  type EventInfo,
  type RoivEventReport,
} from '../../src/ieee11073/index.js';

export interface GoodVector {
  id: string;
  kind: string;
  source: string;
  hex: string;
  expected: Record<string, unknown>;
}

export interface MalformedVector {
  id: string;
  source: string;
  hex: string;
  expected: string;
}

export interface FloatSpecialVector {
  meaning: string;
  sfloat: string;
  float: string;
  dataAbsentReason: string;
}

export interface FloatExampleVector {
  sfloat?: string;
  float?: string;
  value: string;
}

export interface Fixture {
  provenance: string;
  vectors: GoodVector[];
  malformed: MalformedVector[];
  floats: { values: FloatSpecialVector[]; examples: FloatExampleVector[] };
}

const fixturePath = new URL('../fixtures/ieee11073-20601.json', import.meta.url);

export const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as Fixture;

export function bytesOf(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function vectorById(id: string): GoodVector {
  const vector = fixture.vectors.find((entry) => entry.id === id);
  assert.ok(vector, `fixture has no vector ${id}`);
  return vector;
}

/** Parses the number that starts an expected value such as "0x4000 (extended)" or "3 accepted". */
export function leadingNumber(expected: unknown): number {
  if (typeof expected === 'number') {
    return expected;
  }
  assert.equal(typeof expected, 'string', `expected value ${String(expected)} is not text`);
  const token = String(expected).split(' ')[0] ?? '';
  const value = token.startsWith('0x') ? Number.parseInt(token.slice(2), 16) : Number(token);
  assert.ok(Number.isFinite(value), `expected value "${String(expected)}" has no leading number`);
  return value;
}

export function decodeHex(hex: string): Apdu {
  return decodeApdu(bytesOf(hex)).apdu;
}

export function messageOf(apdu: Apdu): { invokeId: number; message: DataMessage } {
  assert.equal(apdu.kind, 'prst');
  return { invokeId: apdu.data.invokeId, message: apdu.data.message };
}

export function eventReportOf(apdu: Apdu): RoivEventReport {
  const { message } = messageOf(apdu);
  assert.ok(
    message.kind === 'roiv-event-report' || message.kind === 'roiv-confirmed-event-report',
    `message is ${message.kind}, not an event report`,
  );
  return message;
}

export function infoOf<K extends EventInfo['kind']>(
  apdu: Apdu,
  kind: K,
): Extract<EventInfo, { kind: K }> {
  const info = eventReportOf(apdu).eventInfo;
  assert.equal(info.kind, kind);
  return info as Extract<EventInfo, { kind: K }>;
}
