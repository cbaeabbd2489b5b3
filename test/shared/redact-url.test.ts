import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/shared/redact-url.js';

describe('redactUrl (pure)', () => {
  it('hides the password and a lone user name in the user information', () => {
    expect(redactUrl('redis://app:s3cret@redis.internal:6379/2')).toBe(
      'redis://app:***@redis.internal:6379/2',
    );
    expect(redactUrl('https://tok3n@host')).toBe('https://***@host');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('hides credential-looking query parameters (ioredis reads ?password=), keeping the others as written', () => {
    const shown = redactUrl(
      'redis://redis.internal:6379/0?password=s3cret&family=6&sentinelPassword=s3cret2&db=1&access_token=t0k&apiKey=k3y&auth=a&Secret=x',
    );
    expect(shown).not.toMatch(/s3cret|t0k|k3y|=a(&|$)|=x(&|$)/);
    expect(shown).toBe(
      'redis://redis.internal:6379/0?password=***&family=6&sentinelPassword=***&db=1&access_token=***&apiKey=***&auth=***&Secret=***',
    );
    // The name written encoded, or the value in a fragment, hides it all the same.
    expect(redactUrl('redis://h:6379?pass%77ord=s3cret')).not.toContain('s3cret');
    expect(redactUrl('redis://h:6379?password')).toBe('redis://h:6379?password');
    expect(redactUrl('redis://u:p@h:6379?password=s3cret')).toBe('redis://u:***@h:6379?password=***');
    expect(redactUrl('https://h/x#token=s3cret')).not.toContain('s3cret');
  });
});

describe('redactUrl: parameters written unusually', () => {
  it('hides a credential after a `;` separator, as servers that split on `;` read it', () => {
    expect(redactUrl('https://h/x?a=1;token=s3cret')).toBe('https://h/x?a=1;token=***');
    expect(redactUrl('https://h/x#a=1;access_token=s3cret&b=2')).toBe('https://h/x#a=1;access_token=***&b=2');
  });

  it('hides a credential whose name carries a malformed %-escape beside a valid one', () => {
    // decodeURIComponent throws on `%ZZ`: the name was then matched undecoded (`p%61ssword%ZZ`).
    expect(redactUrl('redis://h:6379?p%61ssword%ZZ=s3cret')).not.toContain('s3cret');
  });

  it('hides repeated and uppercase names, keeping what is no credential', () => {
    expect(redactUrl('https://h/x?PASSWORD=a1&password=b2&db=3')).toBe(
      'https://h/x?PASSWORD=***&password=***&db=3',
    );
  });
});
