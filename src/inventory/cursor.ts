import { invalid } from '../core/errors.js';
import type { DevicePosition } from './types.js';

const MAX_CURSOR_LENGTH = 512;

/** Encodes a listing position as an opaque base64url token. */
export function encodeCursor(position: DevicePosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id]), 'utf8').toString(
    'base64url',
  );
}

/** Decodes a cursor from a client; anything that encodeCursor did not produce is rejected. */
export function decodeCursor(cursor: string): DevicePosition {
  const reject = (): never => {
    throw invalid(
      'INVENTORY_CURSOR_INVALID',
      'cursor is not one this server issued; start again without a cursor',
      { cursor: cursor.slice(0, 64) },
    );
  };
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    return reject();
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return reject();
  }
  if (
    !Array.isArray(decoded) ||
    decoded.length !== 2 ||
    typeof decoded[0] !== 'string' ||
    typeof decoded[1] !== 'string' ||
    Number.isNaN(Date.parse(decoded[0]))
  ) {
    return reject();
  }
  return { createdAt: decoded[0], id: decoded[1] };
}
