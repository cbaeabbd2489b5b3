import { z } from 'zod';

/**
 * A `?limit=` page size. Only plain decimal digits: a coercion through Number() would read `0x10`,
 * `1e2` and ` 5` as numbers, so a typo or a mangled URL would quietly page by some other size than
 * the one meant. Empty (`?limit=`, CONTRACT.md's own spelling) means not given; given twice, the
 * query string parser hands over an array, which is refused as such rather than as "NaN".
 */
export function pageLimitSchema(max: number, fallback: number) {
  const shape = `must be a whole number from 1 to ${max}`;
  return z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string({ error: 'must be given once' })
      .regex(/^\d{1,9}$/, shape)
      .transform(Number)
      .pipe(z.number().int().min(1, shape).max(max, shape))
      .default(fallback),
  );
}
