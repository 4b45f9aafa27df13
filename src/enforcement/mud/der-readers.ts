import { Tag, childrenOf, expectTag, readObjectIdentifier, type DerNode } from '../../core/der.js';
import { invalid } from '../../core/errors.js';

/**
 * Readers of the DER fields in CMS and X.509 structures that the core DER
 * reader leaves to its callers. Like it, they raise DER_INVALID naming the
 * structure (`what`).
 */

/** Raises DER_INVALID for a structure that does not follow its ASN.1 definition. */
export function malformed(what: string, problem: string): never {
  throw invalid('DER_INVALID', `${what} ${problem}`);
}

/** Tells whether `node` carries the context-specific tag `[tagNumber]`, in either form. */
export function isContextTag(node: DerNode | undefined, tagNumber: number): boolean {
  return node !== undefined && (node.tag & 0xdf) === (0x80 | tagNumber);
}

/** Returns the elements of a SEQUENCE. */
export function sequenceMembers(node: DerNode | undefined, what: string): DerNode[] {
  return childrenOf(expectTag(node, Tag.Sequence, what), what);
}

/** Returns the elements of a SET or SET OF. */
export function setMembers(node: DerNode | undefined, what: string): DerNode[] {
  return childrenOf(expectTag(node, Tag.Set, what), what);
}

/** Returns the content octets of an INTEGER as encoded: two's complement, big-endian. */
export function readIntegerBytes(node: DerNode | undefined, what: string): Buffer {
  const { content } = expectTag(node, Tag.Integer, what);
  if (content.length === 0) {
    malformed(what, 'is an INTEGER without content');
  }
  return content;
}

/** Reads a non-negative INTEGER of at most four octets, such as a version or a length. */
export function readSmallInteger(node: DerNode | undefined, what: string): number {
  const content = readIntegerBytes(node, what);
  if (content.length > 4 || ((content[0] ?? 0) & 0x80) !== 0) {
    malformed(what, 'is negative or longer than four octets');
  }
  return content.readUIntBE(0, content.length);
}

export function readOctetString(node: DerNode | undefined, what: string): Buffer {
  return expectTag(node, Tag.OctetString, what).content;
}

export function readBoolean(node: DerNode | undefined, what: string): boolean {
  const { content } = expectTag(node, Tag.Boolean, what);
  if (content.length !== 1) {
    malformed(what, 'is a BOOLEAN whose content is not one octet');
  }
  return content[0] !== 0;
}

/** Reads a BIT STRING; returns its octets and the number of unused bits in the last one. */
export function readBits(
  node: DerNode | undefined,
  what: string,
): { bytes: Buffer; unusedBits: number } {
  const { content } = expectTag(node, Tag.BitString, what);
  const unusedBits = content[0];
  if (unusedBits === undefined || unusedBits > 7 || (content.length === 1 && unusedBits !== 0)) {
    return malformed(what, 'is a BIT STRING with an invalid unused-bits octet');
  }
  return { bytes: content.subarray(1), unusedBits };
}

/** Reads a BIT STRING of whole octets, such as a signature value. */
export function readOctetAlignedBits(node: DerNode | undefined, what: string): Buffer {
  const { bytes, unusedBits } = readBits(node, what);
  if (unusedBits !== 0) {
    malformed(what, `has ${unusedBits} unused bits where whole octets were expected`);
  }
  return bytes;
}

/** An AlgorithmIdentifier: the algorithm's OID and its parameters, if any. */
export interface AlgorithmIdentifier {
  oid: string;
  parameters: DerNode | undefined;
  /** The whole AlgorithmIdentifier as received, for comparing two of them. */
  encoding: Buffer;
}

export function readAlgorithmIdentifier(
  node: DerNode | undefined,
  what: string,
): AlgorithmIdentifier {
  const checked = expectTag(node, Tag.Sequence, what);
  const [algorithm, parameters, ...rest] = childrenOf(checked, what);
  if (rest.length > 0) {
    malformed(what, 'has members after its parameters');
  }
  return { oid: readObjectIdentifier(algorithm, what), parameters, encoding: checked.bytes };
}

/** Tells whether an AlgorithmIdentifier's parameters are absent or NULL. */
export function hasNoParameters(algorithm: AlgorithmIdentifier): boolean {
  const { parameters } = algorithm;
  return (
    parameters === undefined || (parameters.tag === Tag.Null && parameters.content.length === 0)
  );
}
