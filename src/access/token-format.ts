import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API token text: `mwd_<tokenId>_<secret>`. The id (16 lowercase hex digits)
 * is not secret and locates the stored record; the secret is compared with
 * the stored SHA-256 digest in constant time.
 *
 * Generated secrets are 32 random bytes in base64url (43 characters). A plain
 * SHA-256 digest is enough to store them, because guessing a 256-bit random
 * value offline is infeasible, so a slow password hash would add nothing.
 * Tokens from configuration must carry at least 32 base64url characters of
 * secret (192 bits when chosen at random); their randomness cannot be checked.
 */
export const TOKEN_PREFIX = 'mwd_';
export const TOKEN_FORMAT_HINT =
  'mwd_<16 lowercase hex digits>_<32 to 128 characters from A-Z a-z 0-9 - _>';

const TOKEN_PATTERN = /^mwd_([0-9a-f]{16})_([A-Za-z0-9_-]{32,128})$/;
const TOKEN_ID_PREFIX_PATTERN = /^mwd_([0-9a-f]{16})_/;
const TOKEN_ID_PATTERN = /^[0-9a-f]{16}$/;
const GENERATED_SECRET_BYTES = 32;
const TOKEN_ID_BYTES = 8;

export interface ParsedToken {
  tokenId: string;
  secret: string;
}

/** Splits token text into id and secret; undefined when it does not have the token form. */
export function parseToken(text: string): ParsedToken | undefined {
  const match = TOKEN_PATTERN.exec(text);
  if (match === null) {
    return undefined;
  }
  const [, tokenId, secret] = match;
  return tokenId === undefined || secret === undefined ? undefined : { tokenId, secret };
}

/** The token id of text that starts like a token, even when the rest is malformed. */
export function tokenIdOf(text: string): string | undefined {
  return TOKEN_ID_PREFIX_PATTERN.exec(text)?.[1];
}

export function isTokenId(value: string): boolean {
  return TOKEN_ID_PATTERN.test(value);
}

export function generateToken(): { tokenId: string; secret: string; token: string } {
  const tokenId = randomBytes(TOKEN_ID_BYTES).toString('hex');
  const secret = randomBytes(GENERATED_SECRET_BYTES).toString('base64url');
  return { tokenId, secret, token: formatToken(tokenId, secret) };
}

export function formatToken(tokenId: string, secret: string): string {
  return `${TOKEN_PREFIX}${tokenId}_${secret}`;
}

/** SHA-256 of the secret as lowercase hex, the form stored in `api_token.secret_sha256`. */
export function digestSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Compares a presented secret with a stored digest in time independent of where they differ. */
export function secretMatches(secret: string, storedDigestHex: string): boolean {
  const presented = Buffer.from(digestSecret(secret), 'hex');
  const stored = Buffer.from(storedDigestHex, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
