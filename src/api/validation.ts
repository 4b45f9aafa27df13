import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';

/**
 * Validates request parts with TypeBox's compiler. Bodies are checked as
 * sent: no type coercion, and unknown properties fail where a schema says
 * `additionalProperties: false` (Fastify's default Ajv setup would coerce
 * types and silently drop such properties). Params, querystring and headers
 * arrive as strings, so they are converted to the schema's types first.
 * Every failing path is reported, not only the first.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  return (value: unknown) => {
    const converted = httpPart === 'body' ? value : Value.Convert(schema, value);
    if (check.Check(converted)) {
      return { value: converted };
    }
    const issues: FastifySchemaValidationError[] = [];
    for (const error of check.Errors(converted)) {
      issues.push({
        keyword: 'schema',
        instancePath: error.path,
        schemaPath: '',
        params: {},
        message: describe(error.schema, error.message),
      });
    }
    return { error: issues };
  };
};

/** Names the allowed values when the failing schema is a union of literals. */
function describe(schema: TSchema, message: string): string {
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
