/**
 * Pure: why a body the JSON parser refused was refused — broken JSON, with JSON.parse's own account
 * of where (`Expected ',' or '}' after property value in JSON at position 312`), or a key refused as
 * prototype poisoning (`__proto__`, or `constructor` holding `prototype`), named.
 */
export function invalidJsonMessage(text: string): string {
  let poisoned: string | undefined;
  try {
    JSON.parse(text, function (this: unknown, key: string, value: unknown) {
      if (key === '__proto__') poisoned ??= '"__proto__"';
      else if (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value) {
        poisoned ??= '"constructor" holding "prototype"';
      }
      return value;
    });
  } catch (err) {
    return `the request body is not valid JSON: ${(err as Error).message}`;
  }
  return `the request body has a ${poisoned ?? '"__proto__" or "constructor"'} key, which is refused (prototype poisoning)`;
}
