import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { QUEUES } from '../../src/shared/keys.js';
import { WORKER_FACTORIES } from '../../src/workers/index.js';

/**
 * The queues and workers a newcomer reads about are the ones Bull Board shows: the README's
 * architecture diagram and docs/operations.md's Bull Board section name every one, and no other.
 */

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const queues = Object.values(QUEUES).sort();

describe("the README's architecture diagram", () => {
  const readme = read('README.md');
  const start = readme.indexOf('## Architecture');
  const diagram = /```\n([\s\S]*?)\n```/.exec(readme.slice(start))![1]!;

  it('names every BullMQ queue in its Redis box, and no other', () => {
    const box = diagram
      .split('\n')
      .map((line) => /│([^│]*)│\s*$/.exec(line)?.[1] ?? '')
      .join(' ');
    const listed = /BullMQ queues:([^(]*)\(/.exec(box)![1]!;
    const names = listed
      .split('·')
      .map((name) => name.trim())
      .filter(Boolean)
      .sort();
    expect(names).toEqual(queues);
  });

  it('has a line for every worker in its workers box', () => {
    const lines = diagram.split('\n').map((line) => /^\s*│\s+([a-z]+):/.exec(line)?.[1]);
    const workers = lines.filter((name): name is string => name !== undefined).sort();
    expect(workers).toEqual(WORKER_FACTORIES.map(([name]) => name).sort());
  });
});

describe("docs/operations.md's Bull Board section", () => {
  it('lists every queue Bull Board shows', () => {
    const text = read('docs/operations.md');
    const para = /`http:\/\/<api>\/admin\/queues` lists every queue \(([^)]*)\)/.exec(
      text.replace(/\n/g, ' '),
    );
    expect(para).not.toBeNull();
    const names = [...para![1]!.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!).sort();
    expect(names).toEqual(queues);
  });
});
