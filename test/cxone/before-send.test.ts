import { afterEach, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { campaignBody, type Harness, startHarness } from './harness.js';

/**
 * CallOptions.beforeSend: the last look before a request leaves, after its permit. A throw keeps the
 * request off the wire and is what the call rejects with. Real Redis (the limiter), the sandbox over HTTP.
 */
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('CXone client: beforeSend', () => {
  it('keeps the request unsent when it throws, and rejects the call with what it threw', async () => {
    harness = await startHarness({ tag: 'before-send' });
    const created = await harness.client.createCampaign(campaignBody());
    const refused = new Error('the window closed while the write waited');

    await expect(
      harness.client.updateCampaign(
        created.id,
        created.version,
        { status: 'scheduled' },
        {
          beforeSend: () => {
            throw refused;
          },
        },
      ),
    ).rejects.toBe(refused);

    expect((await harness.counters())[CXONE_ENDPOINTS.updateCampaign]?.requests ?? 0).toBe(0);
    expect(await harness.client.getCampaign(created.id)).toMatchObject({
      status: 'draft',
      version: created.version,
    });
  });

  it('runs once before the request it lets through', async () => {
    harness = await startHarness({ tag: 'before-send' });
    const created = await harness.client.createCampaign(campaignBody());
    let calls = 0;

    const written = await harness.client.updateCampaign(
      created.id,
      created.version,
      { status: 'scheduled' },
      { beforeSend: () => void calls++ },
    );

    expect(written.status).toBe('scheduled');
    expect(calls).toBe(1);
    expect((await harness.counters())[CXONE_ENDPOINTS.updateCampaign]?.requests).toBe(1);
  });
});
