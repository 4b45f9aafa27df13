import { onem2mError } from './status.js';

/** Who this CSE is; every address is checked against it. */
export interface CseIdentity {
  /** SP-relative CSE-ID, for example `/id-medward`. */
  cseId: string;
  /** Resource name of the CSEBase, for example `medward`. */
  cseName: string;
  /** M2M-SP-ID without slashes. */
  spId: string;
  /** Resource ID of the CSEBase: the CSE-ID without its slash. */
  cseRi: string;
}

export function cseIdentity(cseId: string, cseName: string, spId: string): CseIdentity {
  return { cseId, cseName, spId, cseRi: cseId.slice(1) };
}

/** Names of virtual resources, which no real resource may take (TS-0001). */
export const VirtualResourceName = {
  Latest: 'la',
  Oldest: 'ol',
  FanOutPoint: 'fopt',
} as const;

export const reservedResourceNames: ReadonlySet<string> = new Set(['la', 'ol', 'fopt', '-']);

/**
 * A target address reduced to its CSE-relative part (TS-0001 and
 * TS-0004): either the resource-name path below the CSEBase
 * (structured) or a resource ID with optional virtual-resource segments
 * after it (unstructured).
 */
export type ParsedAddress =
  { kind: 'structured'; segments: string[] } | { kind: 'unstructured'; ri: string; rest: string[] };

const UNRESERVED = /^[A-Za-z0-9._~-]+$/;

/** Checks a single path segment: non-empty, unreserved characters only (RFC 3986 2.3). */
export function isUnreservedSegment(segment: string): boolean {
  return UNRESERVED.test(segment);
}

function splitSegments(path: string, to: string): string[] {
  const segments = path.split('/');
  for (const segment of segments) {
    if (segment === '') {
      throw onem2mError(
        'BAD_REQUEST',
        `target address ${JSON.stringify(to)} has an empty path segment`,
      );
    }
    if (segment.length > 255 || !isUnreservedSegment(segment)) {
      throw onem2mError(
        'BAD_REQUEST',
        `target address ${JSON.stringify(to)} has an invalid segment; use unreserved characters (A-Z a-z 0-9 - . _ ~)`,
      );
    }
  }
  return segments;
}

/**
 * Parses the `to` parameter in any of the three forms: CSE-relative
 * (`medward/ae1`, `cnt123`), SP-relative (`/id-medward/medward/ae1`) and
 * absolute (`//sp/id-medward/cnt123`). An address of another CSE or SP is
 * rejected with 5103, because this CSE does not forward requests.
 */
export function parseTargetAddress(to: string, identity: CseIdentity): ParsedAddress {
  if (to.length === 0) {
    throw onem2mError('BAD_REQUEST', 'the target address (to) is empty');
  }
  if (to.length > 4096) {
    throw onem2mError('BAD_REQUEST', 'the target address (to) is longer than 4096 characters');
  }
  let relative = to;
  if (to.startsWith('//')) {
    const rest = to.slice(2);
    const slash = rest.indexOf('/');
    const spId = slash < 0 ? rest : rest.slice(0, slash);
    if (spId !== identity.spId) {
      throw onem2mError(
        'TARGET_NOT_REACHABLE',
        `target SP ${JSON.stringify(spId)} is not this CSE's SP ${identity.spId}; medward does not forward requests`,
      );
    }
    relative = slash < 0 ? '' : rest.slice(slash);
    if (relative === '') {
      throw onem2mError('BAD_REQUEST', `absolute address ${JSON.stringify(to)} names no CSE`);
    }
  }
  if (relative.startsWith('/')) {
    const rest = relative.slice(1);
    const slash = rest.indexOf('/');
    const cseRi = slash < 0 ? rest : rest.slice(0, slash);
    if (cseRi !== identity.cseRi) {
      throw onem2mError(
        'TARGET_NOT_REACHABLE',
        `target CSE /${cseRi} is not this CSE (${identity.cseId}); medward does not forward requests`,
      );
    }
    relative = slash < 0 ? '' : rest.slice(slash + 1);
    if (relative === '') {
      return { kind: 'unstructured', ri: identity.cseRi, rest: [] };
    }
  }
  const segments = splitSegments(relative, to);
  const first = segments[0] ?? '';
  if (first === identity.cseName || first === '-') {
    return { kind: 'structured', segments: segments.slice(1) };
  }
  return { kind: 'unstructured', ri: first, rest: segments.slice(1) };
}

/**
 * Maps an HTTP request path to a `to` address (TS-0009): `/~/cseId/...`
 * is SP-relative, `/_/spId/cseId/...` is absolute, anything else
 * CSE-relative. Segments are percent-decoded.
 */
export function httpPathToTarget(path: string): string {
  if (path.startsWith('/~/')) {
    return '/' + decodePath(path.slice(3), path);
  }
  if (path === '/~') {
    return '/';
  }
  if (path.startsWith('/_/')) {
    return '//' + decodePath(path.slice(3), path);
  }
  return decodePath(path.startsWith('/') ? path.slice(1) : path, path);
}

/** Percent-decodes `text`, a part of the request path `path`. */
function decodePath(text: string, path: string): string {
  // A path without `%` decodes to itself.
  if (!text.includes('%')) {
    return text;
  }
  try {
    return decodeURIComponent(text);
  } catch {
    throw onem2mError(
      'BAD_REQUEST',
      `request path ${JSON.stringify(path)} has invalid percent-encoding`,
    );
  }
}

/** Converts an ID to its MQTT topic form (TS-0010): no leading slash, `/` becomes `:`. */
export function idToMqttTopicPart(id: string): string {
  return id.replace(/^\/+/, '').replaceAll('/', ':');
}
