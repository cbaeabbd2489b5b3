import { describe, expect, it } from 'vitest';
import { duplicateKeyPath } from '../../src/producers/json-body.js';

describe('duplicateKeyPath (pure)', () => {
  it('names the first key given twice by its dotted path, arrays by index', () => {
    expect(duplicateKeyPath('{"name":"a","name":"b"}')).toBe('name');
    expect(duplicateKeyPath('{"d":{"callRate":0.1 , "callRate" :1}}')).toBe('d.callRate');
    expect(duplicateKeyPath('{"w":[{"start":"08:00"},{"start":"08:00","start":"09:00"}]}')).toBe('w.1.start');
  });

  it('compares keys as JSON.parse reads them, escapes decoded', () => {
    expect(duplicateKeyPath('{"ab":1,"a\\u0062":2}')).toBe('ab');
  });

  it('finds nothing in bodies whose keys are each given once', () => {
    for (const text of [
      '{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}',
      '{"a":"\\"b\\":","b":1}',
      '{"s":"a,b","t":["x","y"]}',
      '[{"a":1},{"a":1}]',
      '"a"',
      '',
      '{"a": ',
    ]) {
      expect(duplicateKeyPath(text), text).toBeUndefined();
    }
  });
});
