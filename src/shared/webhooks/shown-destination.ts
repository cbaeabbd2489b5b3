import type { z } from 'zod';
import type { shownDestinationSchema } from '../responses/webhooks.js';
import { decodeOrKeep } from '../http/url-path.js';
import { destinationRef } from './backoff.js';

export type ShownDestination = z.output<typeof shownDestinationSchema>;

/**
 * Which destination `url` is, in a form the API may answer: the label the workers log (origin and a
 * digest of the whole URL, destinationRef), never the path or query, where receivers often keep a
 * token. `pathOrQueryHidden` tells the operator that the origin is not the whole URL, so two
 * destinations on one host differ only by the digest.
 */
export function shownDestination(url: string): ShownDestination {
  return { destination: destinationRef(url).label, pathOrQueryHidden: hasPathOrQuery(url) };
}

function hasPathOrQuery(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '';
  } catch {
    // The label shows no origin either (configuration refuses such a URL): all of it is hidden.
    return true;
  }
}

/**
 * `scheme://…` up to the next space, quote or angle bracket: a URL quoted in a text (an error
 * message). A URL glued to what precedes it (`9https://…`, `id_https://…`) is a URL still, and one
 * left unlabelled would show its path and query; so the match starts where a run of scheme
 * characters does, not at a word boundary, and the scheme is its part from the first letter
 * (labelUrlsIn). Only at a run's start: trying every position inside a long run would take time
 * quadratic in its length, on a receiver's answer of any size.
 */
const URL_IN_TEXT = /(?<![a-z0-9+.-])[a-z0-9+.-]+:\/\/[^\s"'<>]+/gi;
/** What follows the origin in a label (destinationRef): ` (#` and 8 hex digits. */
const LABEL_DIGEST = /^ \(#[0-9a-f]{8}\)/;

function isOrigin(url: string): boolean {
  try {
    return new URL(url).origin === url.toLowerCase();
  } catch {
    return false;
  }
}

/** What may end a sentence (or a quotation) after a URL rather than belong to it. */
const TRAILING = new Set(['.', ',', ';', ':', '!', '?', '`', ')', ']']);

/**
 * The URL in a match: the punctuation after it left out, a closing bracket only when the URL has no
 * opening one for it (an IPv6 host's `]`, a path's balanced `(…)` are the URL's). Pure, and linear:
 * each bracket is counted once, however much punctuation follows.
 */
function urlOf(match: string): string {
  const open: Record<string, number> = { ')': 0, ']': 0 };
  const close: Record<string, number> = { ')': 0, ']': 0 };
  for (const char of match) {
    if (char === '(') open[')']!++;
    else if (char === '[') open[']']!++;
    else if (char in close) close[char]!++;
  }
  let end = match.length;
  while (end > 0) {
    const last = match[end - 1]!;
    if (!TRAILING.has(last)) break;
    if (last in close) {
      if (open[last]! >= close[last]!) break;
      close[last]!--;
    }
    end--;
  }
  return match.slice(0, end);
}

/**
 * A text with every URL in it replaced by its label (destinationRef): what a delivery's failure
 * quotes ends up in the event's `lastError`, the dead letter, the audit trail and the API's answers,
 * so it follows the same rule as the destination itself, no credentials, path or query.
 */
export function labelUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (run: string, offset: number) => {
    // A label already (its origin, then its digest): left as it is, so a text labelled twice (an
    // error quoting another's message) reads as once.
    if (LABEL_DIGEST.test(text.slice(offset + run.length)) && isOrigin(run)) return run;
    // A scheme begins with a letter: what comes before it in the run is text (`9https://…`).
    const start = run.search(/[a-z]/i);
    const scheme = run.indexOf('://');
    if (start < 0 || start > scheme) return run;
    const match = run.slice(start);
    // Punctuation that ends the sentence is not the URL's: left as it was, so the digest is the URL's.
    const url = urlOf(match);
    // Nothing after `://` once the punctuation is left out (`scheme://,`): no URL there.
    if (url.endsWith('://')) return run;
    return run.slice(0, start) + destinationRef(url).label + match.slice(url.length);
  });
}

/** What stands for a part of the destination's URL in a receiver's answer (hideDestinationIn). */
export const HIDDEN_PART = '(hidden)';

/**
 * A path segment or query value this long or longer is hidden wherever the answer quotes it alone:
 * a token, as receivers name one they refuse (tokens worth the name are 16 characters or more).
 * Shorter ones (`hooks`, `services`, `v1`) would hide the ordinary words of the answer.
 */
const TOKEN_LIKE_LENGTH = 12;

/**
 * The parts of `url` a receiver's answer may quote without its origin, longest first: its path and
 * query together and apart (as sent and decoded), and each path segment and query value that looks
 * like a token (a query value both as URLSearchParams reads it and as sent). None for a URL that is
 * its origin alone.
 */
function hiddenParts(url: string): string[] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [];
  }
  const parts = new Set<string>();
  const add = (part: string, min = 1): void => {
    for (const p of [part, decodeOrKeep(part)]) if (p.length >= min && p !== '/') parts.add(p);
  };
  add(u.pathname + u.search);
  add(u.pathname);
  add(u.search);
  add(u.search.slice(1));
  for (const segment of u.pathname.split('/')) add(segment, TOKEN_LIKE_LENGTH);
  for (const [, value] of u.searchParams) add(value, TOKEN_LIKE_LENGTH);
  // Each value as sent too: URLSearchParams reads `+` as a space and decodes `%2F`, while a receiver
  // refusing a token often quotes the raw text it got (a base64 token with `+` in it).
  for (const pair of u.search.slice(1).split('&')) add(pair.slice(pair.indexOf('=') + 1), TOKEN_LIKE_LENGTH);
  return [...parts].sort((a, b) => b.length - a.length);
}

/**
 * A receiver's answer to a delivery to `url`, as dead letters, the audit trail and the API keep it:
 * any URL it quotes labelled (labelUrlsIn), and `url`'s path and query — or a token-like part of
 * them — quoted alone replaced by HIDDEN_PART. Receivers often name what they refuse (`Cannot POST
 * /services/T…/B…/<secret>`, a 404 page of Express), and the path or query is where they keep the
 * token. Pure.
 */
export function hideDestinationIn(text: string, url: string): string {
  let shown = labelUrlsIn(text);
  for (const part of hiddenParts(url)) shown = shown.split(part).join(HIDDEN_PART);
  return shown;
}
