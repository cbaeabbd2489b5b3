import { describe, expect, it } from 'vitest';
import { actorHeaderProblem } from '../../src/producers/auth.js';

/**
 * An X-Actor the API refuses is refused naming what is wrong with it: the one rule quoted whatever
 * broke it left a caller counting 65 characters by hand, or looking for which of "Zoë" was the
 * problem when the message said "each a letter" and ë is one.
 */
describe('actorHeaderProblem', () => {
  it('names the length of a label that is too long', () => {
    expect(actorHeaderProblem('a'.repeat(65))).toBe(
      'X-Actor must be 1 to 64 characters, each an ASCII letter, a digit or one of . _ @ : + -; this one has 65',
    );
  });

  it('names the first character it cannot record and where it is', () => {
    // "Zoë" as Node hands the header over: its UTF-8 bytes read as Latin-1 ("ZoÃ«").
    expect(actorHeaderProblem('Zo\u00c3\u00ab')).toBe(
      'X-Actor must be 1 to 64 characters, each an ASCII letter, a digit or one of . _ @ : + -; byte 3 is 0xC3, which is not ASCII (a letter such as é or ë is sent as two or more bytes)',
    );
    expect(actorHeaderProblem('tab\there')).toBe(
      'X-Actor must be 1 to 64 characters, each an ASCII letter, a digit or one of . _ @ : + -; character 4 is U+0009',
    );
    expect(actorHeaderProblem('has space')).toBe(
      'X-Actor must be 1 to 64 characters, each an ASCII letter, a digit or one of . _ @ : + -; character 4 is U+0020 (a space)',
    );
    expect(actorHeaderProblem('ops/alice')).toBe(
      'X-Actor must be 1 to 64 characters, each an ASCII letter, a digit or one of . _ @ : + -; character 4 is "/"',
    );
  });

  it('names an empty label as empty', () => {
    expect(actorHeaderProblem('')).toBe(
      'X-Actor must be 1 to 64 characters, each an ASCII letter, a digit or one of . _ @ : + -; this one is empty',
    );
  });

  it('accepts a label it records', () => {
    expect(actorHeaderProblem('alice@example.com')).toBeUndefined();
    expect(actorHeaderProblem('a'.repeat(64))).toBeUndefined();
    expect(actorHeaderProblem(undefined)).toBeUndefined();
  });
});
