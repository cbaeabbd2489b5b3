/**
 * The content codings a Content-Encoding header names, `identity` (no coding at all) left out. Pure.
 * Neither the API nor the sandbox inflates request bodies: any coding named here is a 415.
 */
export function contentCodings(header: string | string[] | undefined): string[] {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values
    .flatMap((value) => value.split(','))
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
}
