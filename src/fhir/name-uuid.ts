import { createHash } from 'node:crypto';

/** Namespace of medward's name-based UUIDs for FHIR fullUrls and keys. */
const MEDWARD_FHIR_NAMESPACE = Buffer.from('5d0f3a4e9b6c4f1e8a2d7c3b1e6f9a04', 'hex');

/**
 * Returns the RFC 4122 version 5 (SHA-1, name-based) UUID of `name`, so the
 * same resource gets the same urn:uuid fullUrl in every Bundle built for it.
 */
export function nameUuid(name: string): string {
  const hash = createHash('sha1').update(MEDWARD_FHIR_NAMESPACE).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
