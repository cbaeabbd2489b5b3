import { describe, expect, it } from 'vitest';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import {
  decodeFieldMap,
  packText,
  resourceFromConfig,
  resourceResidue,
  unpackText,
} from '../../src/shared/campaign-record-codec.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import type { CampaignResource } from '../../src/shared/cxone/wire.js';

const config: CampaignConfig = {
  name: 'Codec test',
  startDateTime: '2026-12-01T09:00:00-05:00',
  targetListId: '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60',
  skillGroupId: '0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b',
  complianceTimeZone: 'America/Chicago',
  allowedCallTimes: [{ days: ['mon', 'tue'], start: '09:00', end: '17:00' }],
  dialerStrategy: { strategy: 'progressive', agentCapacity: 10, callRate: 0.5, answerRate: 0.3 },
  compliance: { regime: 'TCPA', doNotCallCheck: true },
  pacing: { strategy: 'abandonment-target', targetAbandonment: 0.025, pollIntervalMs: 15_000 },
};

function resource(patch: Record<string, unknown> = {}): CampaignResource {
  return {
    ...toCreateCampaignRequest(config),
    id: 'c-1',
    version: 4,
    status: 'active',
    createdAt: '2026-12-01T14:00:00Z',
    updatedAt: '2026-12-01T15:00:00Z',
    ...patch,
  } as CampaignResource;
}

describe('CXone resource residue', () => {
  it('keeps only what the config cannot reproduce, and rebuilds the resource exactly', () => {
    const r = resource();
    const residue = resourceResidue(r, config);
    expect(residue).toEqual({
      version: 4,
      status: 'active',
      createdAt: '2026-12-01T14:00:00Z',
      updatedAt: '2026-12-01T15:00:00Z',
    });
    expect(resourceFromConfig('c-1', config, residue)).toEqual(r);
  });

  it('keeps settings CXone holds differently, unknown fields and missing ones', () => {
    const base = resource();
    const compliance = base.complianceSettings;
    const { type: _type, ...withoutType } = base;
    const r = {
      ...withoutType,
      dialerSettings: { ...base.dialerSettings, wrapUpTime: 45, predictiveMode: 'aggressive' },
      complianceSettings: { ...compliance, doNotCallListCheck: false },
      labels: ['spring', 'b2c'],
    } as unknown as CampaignResource;
    const residue = resourceResidue(r, config);
    expect(residue).toMatchObject({
      dialerSettings: { wrapUpTime: 45, predictiveMode: 'aggressive' },
      complianceSettings: { doNotCallListCheck: false },
      labels: ['spring', 'b2c'],
      $absent: ['type'],
    });
    expect(resourceFromConfig('c-1', config, residue)).toEqual(r);
  });

  it('removes a nested setting the config has but the resource lacks', () => {
    const base = resource();
    const { doNotCallListCheck: _dnc, ...compliance } = base.complianceSettings;
    const r = { ...base, complianceSettings: compliance } as unknown as CampaignResource;
    const residue = resourceResidue(r, config);
    expect(residue.$absent).toEqual(['complianceSettings.doNotCallListCheck']);
    expect(resourceFromConfig('c-1', config, residue)).toEqual(r);
  });

  it("never derives recipient states for CXone: they are the config's own", () => {
    const withStates = { ...config, recipientStates: ['TX', 'OK'] };
    const r = resource();
    expect(r.complianceSettings).not.toHaveProperty('recipientStates');
    const residue = resourceResidue(r, withStates);
    expect(residue).not.toHaveProperty('$absent');
    expect(residue).not.toHaveProperty('complianceSettings');
    expect(resourceFromConfig('c-1', withStates, residue)).toEqual(r);
    // A resource an earlier release stored, still carrying a list, keeps it as a setting CXone holds.
    const legacy = {
      ...r,
      complianceSettings: { ...r.complianceSettings, recipientStates: ['TX', 'OK'] },
    } as CampaignResource;
    const kept = resourceResidue(legacy, withStates);
    expect(kept.complianceSettings).toEqual({ recipientStates: ['TX', 'OK'] });
    expect(resourceFromConfig('c-1', withStates, kept)).toEqual(legacy);
  });
});

describe('stored texts', () => {
  it('deflates a long record text well below its size, and reads it back exactly', () => {
    const text = JSON.stringify(config);
    const packed = packText(text);
    expect(packed.length).toBeLessThan(text.length / 2);
    expect(unpackText(packed)).toBe(text);
  });

  it('stores short texts as they are (the script reads version as a number)', () => {
    expect(packText('7').toString('utf8')).toBe('7');
    expect(packText('"active"').toString('utf8')).toBe('"active"');
    expect(unpackText(Buffer.from('{"a":1}'))).toBe('{"a":1}');
  });

  it('round-trips texts the dictionary knows nothing about', () => {
    const text = JSON.stringify({ note: 'ünïcødé '.repeat(20), n: 0.30000000000000004 });
    expect(unpackText(packText(text))).toBe(text);
  });
});

describe('decodeFieldMap', () => {
  const str = (s: string | Buffer) => {
    const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
    if (b.length < 32) return Buffer.concat([Buffer.from([0xa0 | b.length]), b]);
    if (b.length < 256) return Buffer.concat([Buffer.from([0xd9, b.length]), b]);
    const h = Buffer.alloc(3);
    h[0] = 0xda;
    h.writeUInt16BE(b.length, 1);
    return Buffer.concat([h, b]);
  };

  it('reads the map cmsgpack writes: short, 8-bit and 16-bit strings, binary values kept', () => {
    const long = 'x'.repeat(300);
    const binary = Buffer.from([1, 0xff, 0, 0xd9]);
    const buf = Buffer.concat([
      Buffer.from([0x83]),
      str('version'),
      str('3'),
      str('config'),
      str(long),
      str('pacing'),
      str(binary),
    ]);
    const map = decodeFieldMap(buf);
    expect(map.get('version')?.toString()).toBe('3');
    expect(map.get('config')?.toString()).toBe(long);
    expect(map.get('pacing')).toEqual(binary);
  });

  it('refuses what is not such a map', () => {
    expect(() => decodeFieldMap(Buffer.from([0x81, 0x01, 0x02]))).toThrow(/expected a string/);
    expect(() => decodeFieldMap(Buffer.from([0x81, 0xa5, 0x61]))).toThrow(/truncated/);
    expect(() => decodeFieldMap(Buffer.from('{"a":1}'))).toThrow(/expected a map/);
  });
});
