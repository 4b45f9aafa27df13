/**
 * Serialises a JSON value with object keys sorted at every level and no
 * white space, so the same value always yields the same bytes to hash.
 * Undefined object members are left out, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new TypeError(`cannot serialise non-finite number ${value} to canonical JSON`);
    }
    if (typeof value === 'bigint') {
      return JSON.stringify(value.toString());
    }
    if (typeof value === 'function' || typeof value === 'symbol' || value === undefined) {
      return 'null';
    }
    return JSON.stringify(value);
  }
  // Loops and string concatenation replace entries, map and join, because
  // audit records hash several of these per request. The output is the same.
  if (Array.isArray(value)) {
    let text = '[';
    for (let index = 0; index < value.length; index += 1) {
      if (index > 0) {
        text += ',';
      }
      // A hole in a sparse array writes nothing, as Array.prototype.join does.
      if (index in value) {
        text += canonicalJson((value[index] as unknown) ?? null);
      }
    }
    return `${text}]`;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort(compareCodeUnits);
  let text = '{';
  for (const key of keys) {
    const member = object[key];
    if (member === undefined) {
      continue;
    }
    if (text.length > 1) {
      text += ',';
    }
    text += `${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${text}}`;
}

/** Orders strings by UTF-16 code units, independent of locale. */
function compareCodeUnits(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  return a < b ? -1 : 1;
}
