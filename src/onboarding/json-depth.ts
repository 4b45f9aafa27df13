/**
 * Returns the character offset at which objects and arrays in JSON text first
 * nest deeper than `maxDepth`, or -1 when they never do. Brackets inside
 * strings are skipped; nothing else is validated, which JSON.parse does
 * afterwards. Checking first keeps deeply nested input away from parsers and
 * serialisers that recurse.
 */
export function excessiveDepthOffset(text: string, maxDepth: number): number {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c) {
        index += 1;
      } else if (code === 0x22) {
        inString = false;
      }
      continue;
    }
    if (code === 0x22) {
      inString = true;
    } else if (code === 0x7b || code === 0x5b) {
      depth += 1;
      if (depth > maxDepth) {
        return index;
      }
    } else if (code === 0x7d || code === 0x5d) {
      depth -= 1;
    }
  }
  return -1;
}
