import { describe, expect, it } from 'vitest';
import { describeListenError } from '../../src/process/listen-error.js';

const err = (code: string) => Object.assign(new Error(code), { code });
const where = { portVariable: 'PORT', port: 3000, host: '10.1.2.3' };

describe('describeListenError', () => {
  it('names the variable to change for each address problem', () => {
    expect(describeListenError(err('EADDRINUSE'), where)).toBe(
      'PORT 3000 is already in use on 10.1.2.3; set PORT to a free port',
    );
    expect(describeListenError(err('EACCES'), { ...where, port: 80 })).toMatch(/^PORT 80 needs privileges/);
    expect(describeListenError(err('EADDRNOTAVAIL'), where)).toMatch(
      /^HOST 10\.1\.2\.3 is not an address of this machine/,
    );
    expect(describeListenError(err('ENOTFOUND'), { ...where, host: 'api.nowhere' })).toMatch(
      /^HOST api\.nowhere does not resolve/,
    );
    expect(describeListenError(err('EADDRINUSE'), { ...where, portVariable: 'SANDBOX_PORT' })).toMatch(
      /set SANDBOX_PORT to a free port$/,
    );
  });

  it('leaves other errors to the stack-traced log', () => {
    expect(describeListenError(err('EMFILE'), where)).toBeUndefined();
    expect(describeListenError(new Error('boom'), where)).toBeUndefined();
    expect(describeListenError(undefined, where)).toBeUndefined();
  });
});
