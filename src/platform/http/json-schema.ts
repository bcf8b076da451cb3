import Ajv, { ErrorObject, JSONSchemaType, ValidateFunction } from 'ajv';
import { FieldProblem, RequestValidationError } from './request.errors';

/** An RFC 3339 date-time, as every time field of the API takes it (then parsed and checked). */
export const RFC3339_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';

// One compiler for the service: schemas are compiled once, at module load.
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });

function problemOf(error: ErrorObject): FieldProblem {
  const missing =
    error.keyword === 'required' ? `/${(error.params as { missingProperty: string }).missingProperty}` : '';
  const extra =
    error.keyword === 'additionalProperties'
      ? `/${(error.params as { additionalProperty: string }).additionalProperty}`
      : '';
  const path = `${error.instancePath}${missing}${extra}`;
  const message =
    error.keyword === 'required'
      ? 'is required'
      : error.keyword === 'additionalProperties'
        ? 'is not an allowed field'
        : (error.message ?? 'is invalid');
  return { path, message };
}

/** A compiled validator that throws RequestValidationError naming every bad field by its path. */
export function validator<T>(
  schema: JSONSchemaType<T> | Record<string, unknown>,
): (value: unknown, pathPrefix?: string) => T {
  const validate = ajv.compile(schema) as ValidateFunction<T>;
  return (value, pathPrefix = '') => {
    if (!validate(value)) {
      const problems = (validate.errors ?? []).slice(0, 50).map(problemOf);
      throw new RequestValidationError(problems.map((p) => ({ ...p, path: `${pathPrefix}${p.path}` })));
    }
    return value;
  };
}

/** The nesting depth of a JSON value (a scalar is 0, `{}` is 1). Stops counting past `limit`. */
export function jsonDepth(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (limit <= 0) return 1;
  let deepest = 0;
  for (const child of Array.isArray(value) ? value : Object.values(value)) {
    deepest = Math.max(deepest, jsonDepth(child, limit - 1));
    if (deepest >= limit) break;
  }
  return 1 + deepest;
}
