import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import { describeSchemaError } from '../core/schema-problems.js';

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
        message: describeSchemaError(error.schema, error.message),
      });
    }
    return { error: issues };
  };
};
