import type { TSchema } from '@sinclair/typebox';

/**
 * Rewrites a TypeBox error message so a failed union of literals names the
 * allowed values ("Expected one of low, moderate, high") instead of saying
 * only that no union member matched.
 */
export function describeSchemaError(schema: TSchema, message: string): string {
  const options: unknown = schema.anyOf;
  if (!Array.isArray(options) || options.length === 0) {
    return message;
  }
  const values: string[] = [];
  for (const option of options as unknown[]) {
    if (typeof option !== 'object' || option === null || !('const' in option)) {
      return message;
    }
    values.push(String(option.const));
  }
  return `Expected one of ${values.join(', ')}`;
}
