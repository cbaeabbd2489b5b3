/**
 * Every non-2xx answer of the sandbox is one of these, rendered as JSON `{error, message, ...extra}`
 * by the app's error handler. Route code throws; it never builds error replies by hand.
 */
export class SandboxHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'SandboxHttpError';
  }

  body(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.extra };
  }
}

export interface FieldProblem {
  field: string;
  message: string;
}

export function validationFailed(errors: FieldProblem[], what = 'request body'): SandboxHttpError {
  return new SandboxHttpError(
    422,
    'validation_failed',
    `invalid ${what}: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
    { errors },
  );
}

export function notFound(what: string): SandboxHttpError {
  return new SandboxHttpError(404, 'not_found', `${what} not found`);
}
