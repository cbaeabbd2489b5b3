import type { z } from 'zod';

/**
 * The type without its index signatures, at every depth: a loose object's output type accepts any
 * further key, and a value the code builds names only the fields it knows.
 */
type Closed<T> = T extends readonly (infer E)[]
  ? Closed<E>[]
  : T extends object
    ? { [K in keyof T as string extends K ? never : K]: Closed<T[K]> }
    : T;

/**
 * What a route builds for a response schema: its output type without the index signatures a loose
 * object adds (those let a stored record of an earlier release carry a field this one dropped, but
 * the code builds only the named fields).
 */
export type ResponseBody<S extends z.ZodType> = Closed<z.output<S>>;
