import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { problemsOf } from './problems.js';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const TOKEN = 'SeCrEtToKeN1234567890';

/** The line the refused WEBHOOK_URL gets, and the 8 hex digits operators compare (docs: sha256sum). */
function lineFor(url: string): { line: string; digest: string } {
  const line = problemsOf({ WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET }).find((p) =>
    p.startsWith('WEBHOOK_URL:'),
  );
  expect(line).toBeDefined();
  return { line: line!, digest: createHash('sha256').update(url).digest('hex').slice(0, 8) };
}

// Receivers keep a token in the URL's path or query (Slack's /services/T…/B…/<secret>, ?token=…):
// the API, the logs and the dead letters show only the destination's label. The start-up line that
// refuses WEBHOOK_URL goes to the same logs, and used to quote all of it.
describe('a refused WEBHOOK_URL', () => {
  it('is shown without its path, query or user information, with the digest of the whole URL', () => {
    const withCredentials = lineFor(`https://user:pass@hooks.slack.example/services/T01/B02/${TOKEN}`);
    expect(withCredentials.line).toContain('must not carry a user name or password');
    expect(withCredentials.line).toContain(
      `(got "https://***@hooks.slack.example/… (#${withCredentials.digest})")`,
    );
    const wrongScheme = lineFor(`ftp://hooks.example:2121/in?token=${TOKEN}#frag`);
    expect(wrongScheme.line).toContain(`(got "ftp://hooks.example:2121/… (#${wrongScheme.digest})")`);
    for (const { line } of [withCredentials, wrongScheme]) {
      const quoted = line.slice(line.indexOf('(got '));
      expect(quoted).not.toContain(TOKEN);
      expect(quoted).not.toContain('services');
      expect(quoted).not.toContain('pass');
    }
  });

  it('keeps an origin-only URL whole, and names one that does not parse without quoting it', () => {
    const bare = lineFor('ftp://hooks.example');
    expect(bare.line).toContain(`(got "ftp://hooks.example (#${bare.digest})")`);
    const unparseable = lineFor(`hooks.example/in?token=${TOKEN}`);
    expect(unparseable.line).toContain(`(got "(unparseable URL) (#${unparseable.digest})")`);
    expect(unparseable.line).not.toContain(TOKEN);
  });
});
