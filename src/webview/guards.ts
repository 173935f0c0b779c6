// Structural checks for what arrives from outside the page's own code: host messages and restored state.
// A tiny, typed stand-in for zod (which stays out of the browser bundle): `object<T>` must name every key of T
// with a check of that key's type, so a protocol change that the checks miss fails to compile.

export type Check<T> = (value: unknown) => value is T;

export const isString: Check<string> = (value): value is string => typeof value === 'string';

/** Any number, NaN included: formatting shows a non-finite number as a dash rather than dropping the state. */
export const isNumber: Check<number> = (value): value is number => typeof value === 'number';

export const isBoolean: Check<boolean> = (value): value is boolean => typeof value === 'boolean';

export function literal<T extends string | number>(...allowed: readonly T[]): Check<T> {
  return (value): value is T => allowed.some((a) => a === value);
}

export function nullable<T>(check: Check<T>): Check<T | null> {
  return (value): value is T | null => value === null || check(value);
}

export function arrayOf<T>(check: Check<T>): Check<T[]> {
  return (value): value is T[] => Array.isArray(value) && value.every((item) => check(item));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function object<T>(shape: { [K in keyof T]-?: Check<T[K]> }): Check<T> {
  const keys = Object.keys(shape) as (keyof T & string)[];
  return (value): value is T => isRecord(value) && keys.every((key) => shape[key](value[key]));
}
