import type { z } from 'zod';
import type { shownDestinationSchema } from '../responses/webhooks.js';
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

/** `scheme://…` up to the next space or quote: a URL quoted in a text (an error message). */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?)\]]+$/;

/**
 * A text with every URL in it replaced by its label (destinationRef): what a delivery's failure
 * quotes ends up in the event's `lastError`, the dead letter, the audit trail and the API's answers,
 * so it follows the same rule as the destination itself, no credentials, path or query.
 */
export function labelUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (match) => {
    // Punctuation that ends the sentence is not the URL's: left as it was, so the digest is the URL's.
    const url = match.replace(TRAILING_PUNCTUATION, '');
    return destinationRef(url).label + match.slice(url.length);
  });
}
