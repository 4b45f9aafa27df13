/**
 * Protocol detection at the interworking boundary: tells IEEE 11073-20601
 * APDUs from oneM2M request primitives from anything else, and validates each
 * strictly against its own protocol before it may cross.
 */
import { AuditOutcome, type AuditTrail } from '../core/audit/index.js';
import { isMedwardError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { APDU_HEADER_BYTES, ApduTag, decodeApdu, type DecodedApdu } from '../ieee11073/index.js';
import { parseRequestPrimitive } from '../onem2m/primitive.js';
import type { RequestPrimitive } from '../onem2m/types.js';

export type BoundaryProtocol = 'ieee11073-20601' | 'onem2m' | 'unknown';

export type Detection =
  | { accepted: true; protocol: 'ieee11073-20601'; apdu: DecodedApdu }
  | { accepted: true; protocol: 'onem2m'; request: RequestPrimitive }
  | { accepted: false; protocol: BoundaryProtocol; reason: string };

/** Largest input the detector reads: the default maximum APDU and oneM2M content sizes are both below it. */
export const MAX_BOUNDARY_BYTES = 1024 * 1024;

const apduTags = new Set<number>(Object.values(ApduTag));
const primitiveKeys = ['op', 'to', 'fr', 'rqi'] as const;

/**
 * True when `bytes` is framed as one 11073-20601 APDU: a known APDU choice tag
 * followed by a 16-bit length that covers exactly the rest of the bytes.
 */
function framedAsApdu(bytes: Uint8Array): boolean {
  if (bytes.byteLength < APDU_HEADER_BYTES) {
    return false;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = view.getUint16(0);
  const length = view.getUint16(2);
  return apduTags.has(tag) && length === bytes.byteLength - APDU_HEADER_BYTES;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when a JSON value has the shape of a request primitive (bare or inside `m2m:rqp`). */
function shapedAsPrimitive(value: unknown): boolean {
  const primitive = isObject(value) && isObject(value['m2m:rqp']) ? value['m2m:rqp'] : value;
  return isObject(primitive) && primitiveKeys.some((key) => key in primitive);
}

function errorReason(error: unknown): string {
  if (isMedwardError(error)) {
    return `${error.code}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function detectApdu(bytes: Uint8Array): Detection {
  try {
    return { accepted: true, protocol: 'ieee11073-20601', apdu: decodeApdu(bytes) };
  } catch (error) {
    return { accepted: false, protocol: 'ieee11073-20601', reason: errorReason(error) };
  }
}

function detectPrimitive(value: unknown): Detection {
  try {
    return { accepted: true, protocol: 'onem2m', request: parseRequestPrimitive(value) };
  } catch (error) {
    return { accepted: false, protocol: 'onem2m', reason: errorReason(error) };
  }
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function detectText(text: string): Detection {
  const parsed = parseJson(text);
  if (!parsed.ok) {
    return { accepted: false, protocol: 'unknown', reason: 'input is neither an APDU nor JSON' };
  }
  return detectValue(parsed.value);
}

function detectValue(value: unknown): Detection {
  if (!shapedAsPrimitive(value)) {
    return {
      accepted: false,
      protocol: 'unknown',
      reason: 'JSON input is not a oneM2M request primitive (no op, to, fr or rqi)',
    };
  }
  return detectPrimitive(value);
}

/**
 * Detects the protocol of untrusted input and validates it: bytes framed as
 * an APDU go through `decodeApdu`, JSON shaped as a request primitive
 * (bytes, text or an already parsed value) through the CSE's primitive
 * parser. Everything else is rejected with protocol `unknown`.
 */
export function detectProtocol(input: unknown): Detection {
  if (input instanceof Uint8Array) {
    if (input.byteLength > MAX_BOUNDARY_BYTES) {
      return {
        accepted: false,
        protocol: 'unknown',
        reason: `input of ${input.byteLength} bytes exceeds ${MAX_BOUNDARY_BYTES} bytes`,
      };
    }
    if (framedAsApdu(input)) {
      return detectApdu(input);
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      return { accepted: false, protocol: 'unknown', reason: 'input is neither an APDU nor UTF-8' };
    }
    return detectText(text);
  }
  if (typeof input === 'string') {
    if (Buffer.byteLength(input) > MAX_BOUNDARY_BYTES) {
      return {
        accepted: false,
        protocol: 'unknown',
        reason: `input exceeds ${MAX_BOUNDARY_BYTES} bytes`,
      };
    }
    return detectText(input);
  }
  return detectValue(input);
}

/** Rejections logged per source before further ones are only counted, within one minute. */
const LOGGED_REJECTIONS_PER_MINUTE = 20;

/**
 * The checkpoint every message crossing the interworking boundary passes:
 * detection and validation, and for each rejection a log line and an audit
 * record `interworking.boundary.reject`.
 */
export class BoundaryGuard {
  private windowStartMs = 0;
  private loggedInWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly audit: AuditTrail,
    private readonly logger: Logger,
  ) {}

  /**
   * Detects and validates `input` from `source` (an address or originator).
   * Resolves with the detection; a rejection is audited before it resolves.
   */
  async check(input: unknown, source: string): Promise<Detection> {
    const detection = detectProtocol(input);
    if (!detection.accepted) {
      this.logRejection(detection.protocol, detection.reason, source);
      await this.audit.record({
        event: 'interworking.boundary.reject',
        action: 'E',
        outcome: AuditOutcome.MinorFailure,
        reason: detection.reason,
        sourceAddress: source,
        details: { protocol: detection.protocol, source },
      });
    }
    return detection;
  }

  private logRejection(protocol: BoundaryProtocol, reason: string, source: string): void {
    const now = Date.now();
    if (now - this.windowStartMs > 60000) {
      if (this.suppressed > 0) {
        this.logger.warn(
          { suppressed: this.suppressed },
          'interworking boundary rejections not logged',
        );
      }
      this.windowStartMs = now;
      this.loggedInWindow = 0;
      this.suppressed = 0;
    }
    if (this.loggedInWindow >= LOGGED_REJECTIONS_PER_MINUTE) {
      this.suppressed += 1;
      return;
    }
    this.loggedInWindow += 1;
    this.logger.warn({ protocol, reason, source }, 'interworking boundary rejected input');
  }
}
