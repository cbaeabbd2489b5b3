import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoadGenerator } from '../../bench/fleet/load-generator.js';
import { submitterOf } from '../../bench/fleet/submissions.js';

describe('fleet benchmark submissions', () => {
  it('saturates with at most `concurrency` in flight, answering in submission order', async () => {
    let inFlight = 0;
    let peak = 0;
    const submitter = submitterOf(async (index) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, (index * 7) % 5));
      inFlight--;
      return { name: `n${index}`, sentAt: Date.now() };
    });
    const sent = await submitter.saturate(10, 20, 4);
    expect(sent.map((s) => s.name)).toEqual(Array.from({ length: 20 }, (_, i) => `n${10 + i}`));
    expect(peak).toBe(4);
  });

  it('paces an open loop: each submission leaves on time, answered or not', async () => {
    const submitter = submitterOf(async (index) => {
      const sentAt = Date.now();
      await new Promise((r) => setTimeout(r, 200)); // slower than the pace
      return { name: `n${index}`, sentAt };
    });
    const sent = await submitter.pace(0, 5, 50);
    // 20 ms apart: 80 ms from first to last, where waiting for each answer would take 800 ms.
    const span = sent[4]!.sentAt - sent[0]!.sentAt;
    expect(span).toBeGreaterThanOrEqual(70);
    expect(span).toBeLessThan(400);
  });
});

/** The load generator in its own process, against a stand-in API over real HTTP. */
describe('fleet benchmark load generator', () => {
  const seen: { auth: string | undefined; name: string }[] = [];
  let refuse = false;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const config = JSON.parse(body) as { name: string };
      seen.push({ auth: req.headers.authorization, name: config.name });
      res.writeHead(refuse ? 422 : 202, { 'content-type': 'application/json' });
      res.end(JSON.stringify(refuse ? { error: 'no' } : { launchId: `launch-${config.name}` }));
    });
  });
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('posts launches from its own process and reports names, send times and launch ids', async () => {
    const generator = await startLoadGenerator(url, 'secret-token');
    try {
      const before = Date.now();
      const sent = await generator.saturate(100, 6, 3);
      expect(sent).toHaveLength(6);
      expect(seen.map((s) => s.auth)).toEqual(Array(6).fill('Bearer secret-token'));
      expect(sent.map((s) => s.name).sort()).toEqual(seen.map((s) => s.name).sort());
      for (const s of sent) {
        expect(s.name).toMatch(/^bench-1\d\d-/);
        expect(s.launchId).toBe(`launch-${s.name}`);
        expect(s.sentAt).toBeGreaterThanOrEqual(before);
      }
      const paced = await generator.pace(200, 2, 20);
      expect(paced.map((s) => s.name)).toEqual([
        expect.stringMatching(/^bench-200-/),
        expect.stringMatching(/^bench-201-/),
      ]);

      refuse = true;
      await expect(generator.saturate(300, 1, 1)).rejects.toThrow(/launch refused: 422/);
    } finally {
      await generator.close();
    }
  });
});
