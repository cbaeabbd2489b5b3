/** A request URL's path: everything before the query string. */
export function pathOf(url: string): string {
  return url.split('?', 1)[0] ?? url;
}

/**
 * `text` without its trailing slashes. A loop, not `replace(/\/+$/, '')`: that regex is quadratic on a
 * run of slashes that does not end the text (each start in the run scans to the run's end before `$`
 * fails), so one 16 KiB request path of slashes held the event loop for a minute, without a token.
 */
export function trimTrailingSlashes(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x2f) end--;
  return end === text.length ? text : text.slice(0, end);
}
