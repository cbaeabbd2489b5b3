import { describe, expect, it } from 'vitest';
import { AUDIT_USAGE } from '../../src/cli/audit.js';

describe("the audit tool's usage", () => {
  // The image has no tsx and no src/ (docs/operations.md, Containers): there `npm run audit` does not
  // run, and the usage of `node dist/cli/audit.js --help` named only it.
  it('names the command that runs where npm run audit cannot', () => {
    expect(AUDIT_USAGE.split('\n')[0]).toContain('npm run audit -- <command>');
    expect(AUDIT_USAGE.split('\n')[0]).toContain('node dist/cli/audit.js <command>');
  });
});
