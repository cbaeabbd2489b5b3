import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../../src/shared/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream);
  return { log, lines };
}

describe('logger redaction', () => {
  it('never writes credentials in the shapes we log', () => {
    const { log, lines } = capture();
    log.info({ headers: { authorization: 'Bearer abc.def' } }, 'request');
    log.info({ req: { headers: { authorization: 'Bearer xyz' } } }, 'incoming');
    log.info({ token: { access_token: 'tok-1', expires_in: 3600 } }, 'token');
    log.info({ client: { clientSecret: 's3cret', clientId: 'id-1' } }, 'client');
    log.info({ webhook: { secret: 'whsec_abc' }, apiToken: 'dev-token' }, 'settings');
    const out = lines.join('\n');
    for (const secret of ['abc.def', 'xyz', 'tok-1', 's3cret', 'whsec_abc', 'dev-token']) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('id-1');
    expect(out).toContain('[redacted]');
  });
});
