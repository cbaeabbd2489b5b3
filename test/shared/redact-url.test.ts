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
