/** A request URL's path: everything before the query string. */
export function pathOf(url: string): string {
  return url.split('?', 1)[0] ?? url;
}
