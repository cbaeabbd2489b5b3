import type { z } from 'zod';

/**
 * Compile-time proof that a response schema describes what a route really returns, when the value is
 * built by code that types it on its own (a stored record's interface, a pure builder's return type).
 * A `const _check: Describes<Built, Schema> = true` line fails to compile as soon as the two drift.
 */

/**
 * The key structure of a type: every property, optional or not, down to the leaves. JSON drops an
 * `undefined` value, so a key that may hold `unknown` is written as optional in a response schema
 * while its domain type may say `unknown`; comparing key structure rather than types keeps that
 * honest without forcing either side to misstate itself. Index signatures (a loose object's, a
 * record's) name no property and are left out, and so is a key that can only be `undefined` (TypeScript
 * adds `k?: undefined` to the variants of a union of object literals that lack `k`; JSON never has
 * it). Distributes over a union: each variant keeps its own keys.
 */
export type Keys<T> = T extends readonly (infer E)[]
  ? Keys<E>[]
  : T extends object
    ? {
        [
          K in keyof T as string extends K ? never : [Exclude<T[K], undefined>] extends [never] ? never : K
        ]-?: Keys<Exclude<T[K], undefined | null>>;
      }
    : 'leaf';

/**
 * The type without its index signatures, at every depth: a loose object's output type accepts any
 * further key, and an interface (which has no index signature) would not be assignable to it.
 */
export type Closed<T> = T extends readonly (infer E)[]
  ? Closed<E>[]
  : T extends object
    ? { [K in keyof T as string extends K ? never : K]: Closed<T[K]> }
    : T;

type Equivalent<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * True when every value of `Built` is an answer the schema's type accepts, and both name the same
 * properties at every depth (so a field added to either side without the other fails to compile).
 */
export type Describes<Built, Documented> = [Built] extends [Closed<Documented>]
  ? Equivalent<Keys<Built>, Keys<Documented>>
  : false;

/**
 * What a route builds for a response schema: its output type without the index signatures a loose
 * object adds (those let a stored record of an earlier release carry a field this one dropped, but
 * the code builds only the named fields).
 */
export type ResponseBody<S extends z.ZodType> = Closed<z.output<S>>;
