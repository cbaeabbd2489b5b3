import { STATUS_CODES } from 'node:http';
import { SandboxHttpError } from './errors.js';

/** What a load balancer says under its status line, in the words such pages use. */
const EXPLANATIONS: Record<number, string> = {
  502: 'The server, while acting as a gateway or proxy, received an invalid response from the upstream server it accessed in attempting to fulfil the request.',
  503: 'The server is temporarily unable to service your request due to maintenance downtime or capacity problems. Please try again later.',
  504: 'The server, while acting as a gateway or proxy, did not receive a timely response from the upstream server it needed to access in order to complete the request.',
};

/**
 * The error page a load balancer in front of CXone serves for `status`: a whole HTML document with
 * its own styles, well over a kilobyte, as real ones are (a client that keeps "the first 500
 * characters" of it keeps markup and CSS, not what went wrong). Deterministic. Pure.
 */
export function gatewayErrorPage(status: number): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Server Error'}`;
  const explanation =
    EXPLANATIONS[status] ?? 'The server encountered an error and could not complete your request.';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  html, body { margin: 0; padding: 0; }
  body { font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2328; background: #f6f8fa; }
  main { max-width: 42rem; margin: 6rem auto; padding: 2rem 2.5rem; background: #ffffff; border: 1px solid #d0d7de; border-radius: 6px; }
  h1 { font-size: 1.75rem; font-weight: 600; margin: 0 0 1rem; }
  p { font-size: 1rem; line-height: 1.6; margin: 0 0 1rem; }
  footer { font-size: 0.8rem; color: #656d76; border-top: 1px solid #d0d7de; padding-top: 1rem; }
</style>
</head>
<body>
<main>
<h1>${title}</h1>
<p>${explanation}</p>
<footer>cxone-sandbox edge gateway</footer>
</main>
</body>
</html>
`;
}

/**
 * A failure answered the way a load balancer answers it, not in the sandbox's JSON error shape: its
 * HTML error page (`html`) or no body and no content type at all (`empty`). Only injected faults
 * take this form; every other error of the sandbox stays JSON.
 */
export class GatewayPageError extends SandboxHttpError {
  constructor(
    statusCode: number,
    readonly form: 'html' | 'empty',
  ) {
    super(statusCode, 'gateway_error', `the gateway in front of the service answered ${statusCode}`);
    this.name = 'GatewayPageError';
  }

  /** The answer on the wire: its content type (none for an empty body) and its payload. */
  page(): { contentType: string | undefined; payload: string | null } {
    return this.form === 'html'
      ? { contentType: 'text/html; charset=utf-8', payload: gatewayErrorPage(this.statusCode) }
      : { contentType: undefined, payload: null };
  }
}
