import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { CampaignConfig } from './campaign-config.js';
import { toCreateCampaignRequest } from './cxone/to-wire.js';
import type { CampaignResource } from './cxone/wire.js';

/**
 * How a campaign record is kept compact in Redis (campaign-store.ts): pure functions, no I/O.
 *
 * - The CXone resource is not stored next to the config it duplicates: almost all of it is the
 *   config mapped onto CXone's wire shape (toCreateCampaignRequest), so only what that mapping
 *   cannot reproduce is kept — version, status and timestamps, plus any setting CXone holds
 *   differently (a wrapUpTime changed in CXone's console, a field a newer CXone added) — and the
 *   resource is rebuilt from the config on read, exactly.
 * - The record is one Redis string: a MessagePack map of field name → JSON text, packed and
 *   merged by the store's Lua script (Redis ships cmsgpack). One string costs far less than a hash
 *   whose large values force the `hashtable` encoding, and field-level merging is kept.
 * - Longer JSON texts are stored deflated against a preset dictionary of the record's own
 *   vocabulary (field names, enum values): a record's JSON is mostly the same keys every time, which
 *   plain deflate cannot exploit in a few hundred bytes. The script never looks inside a value (only
 *   at `version`, which is always stored plain), so this is invisible to the merging.
 */

/** Nested settings objects, compared field by field so one changed setting does not copy the whole object. */
const NESTED = ['dialerSettings', 'complianceSettings'] as const;
/** Residue key listing `a` or `a.b` paths the mapping produces but the resource does not have. */
const ABSENT = '$absent';

export type ResourceResidue = Record<string, unknown>;

// Identical values serialize identically; most settings match the config, so most compare by identity.
const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function derivedBase(campaignId: string, config: CampaignConfig): Record<string, unknown> {
  return { ...toCreateCampaignRequest(config), id: campaignId } as unknown as Record<string, unknown>;
}

/** What of `resource` cannot be rebuilt from `config` (see resourceFromConfig). */
export function resourceResidue(resource: CampaignResource, config: CampaignConfig): ResourceResidue {
  const base = derivedBase(resource.id, config);
  const actual = resource as unknown as Record<string, unknown>;
  const residue: ResourceResidue = {};
  const absent: string[] = [];
  for (const key of Object.keys(base)) if (!(key in actual)) absent.push(key);
  for (const [key, value] of Object.entries(actual)) {
    const derived = base[key];
    if ((NESTED as readonly string[]).includes(key) && isObject(value) && isObject(derived)) {
      const diff: Record<string, unknown> = {};
      for (const sub of Object.keys(derived)) if (!(sub in value)) absent.push(`${key}.${sub}`);
      for (const [sub, v] of Object.entries(value)) if (!same(v, derived[sub])) diff[sub] = v;
      if (Object.keys(diff).length > 0) residue[key] = diff;
    } else if (!(key in base) || !same(value, derived)) {
      residue[key] = value;
    }
  }
  if (absent.length > 0) residue[ABSENT] = absent;
  return residue;
}

/** The CXone resource `residue` was taken from, rebuilt from the config it was taken against. */
export function resourceFromConfig(
  campaignId: string,
  config: CampaignConfig,
  residue: ResourceResidue,
): CampaignResource {
  const out = derivedBase(campaignId, config);
  const absent = Array.isArray(residue[ABSENT]) ? (residue[ABSENT] as string[]) : [];
  for (const path of absent) {
    const [key, sub] = path.split('.', 2) as [string, string | undefined];
    if (sub === undefined) delete out[key];
    else if (isObject(out[key])) {
      const nested = { ...(out[key] as Record<string, unknown>) };
      delete nested[sub];
      out[key] = nested;
    }
  }
  for (const [key, value] of Object.entries(residue)) {
    if (key === ABSENT) continue;
    const current = out[key];
    out[key] =
      (NESTED as readonly string[]).includes(key) && isObject(current) && isObject(value)
        ? { ...current, ...value }
        : value;
  }
  return out as unknown as CampaignResource;
}

/**
 * Decodes the MessagePack map the store's Lua script writes (cmsgpack: a map of string → bytes,
 * each value a packText). Only the types that map can hold are accepted; anything else is a corrupt
 * record.
 */
export function decodeFieldMap(buf: Buffer): Map<string, Buffer> {
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > buf.length) throw new Error('campaign record: truncated MessagePack');
  };
  const readLength = (bytes: 1 | 2 | 4) => {
    need(bytes);
    const n = bytes === 1 ? buf.readUInt8(pos) : bytes === 2 ? buf.readUInt16BE(pos) : buf.readUInt32BE(pos);
    pos += bytes;
    return n;
  };
  const readBytes = (): Buffer => {
    need(1);
    const tag = buf.readUInt8(pos++);
    let len: number;
    if (tag >= 0xa0 && tag <= 0xbf) len = tag & 0x1f;
    else if (tag === 0xd9 || tag === 0xc4) len = readLength(1);
    else if (tag === 0xda || tag === 0xc5) len = readLength(2);
    else if (tag === 0xdb || tag === 0xc6) len = readLength(4);
    else throw new Error(`campaign record: expected a string, found MessagePack tag 0x${tag.toString(16)}`);
    need(len);
    const bytes = buf.subarray(pos, pos + len);
    pos += len;
    return bytes;
  };
  need(1);
  const tag = buf.readUInt8(pos++);
  let entries: number;
  if (tag >= 0x80 && tag <= 0x8f) entries = tag & 0x0f;
  else if (tag === 0xde) entries = readLength(2);
  else if (tag === 0xdf) entries = readLength(4);
  else if (tag === 0x90)
    entries = 0; // cmsgpack packs an empty table as an empty array
  else throw new Error(`campaign record: expected a map, found MessagePack tag 0x${tag.toString(16)}`);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < entries; i += 1) {
    const key = readBytes().toString('utf8');
    out.set(key, readBytes());
  }
  return out;
}

/**
 * Marks a deflated text (no JSON text starts with this byte). A change to the dictionary needs a new
 * marker, keeping this one readable: records written with it live on in Redis.
 */
const DEFLATE_V1 = 0x01;
/** Shorter texts are stored as they are: deflate's own overhead eats most of what it would save. */
const MIN_DEFLATE_LENGTH = 48;

/**
 * The dictionary for DEFLATE_V1: the vocabulary of a campaign record's JSON, with the most frequent
 * fragments last (deflate reaches the end of the window most cheaply). Frozen: see DEFLATE_V1. (Its
 * `"complianceSettings":{"recipientStates":[` is from when the states were sent to CXone; they are
 * the config's own now, and the fragment stays so the records written with it still inflate.)
 */
const DICTIONARY_V1 = Buffer.from(
  [
    '"dialerSettings":{"wrapUpTime":"complianceSettings":{"recipientStates":["doNotCallListCheck":true,',
    '"regulatoryCompliance":"TCPA"},"compliance":{"regime":"TCPA","doNotCallCheck":true},"description":"',
    '"threshold","progressive","preview","power","off","paused","scheduled","completed","cancelled","draft",',
    '"lastChangeAtMs":null,"ceiling":{"callRate":,"setAtMs":,"strikes":1},"guard":{"sinceMs":,"preGuardCallRate":',
    '"throttle","pause","skipped","down","up","hold","reason":"within the deadband","guardActive":false,',
    '"pendingCommandId":null,"guardCap":{"maxCallRate":,"reason":"abandonment guard"},"guardCap":null}',
    '{"effectiveIntervalMs":15000,"desiredIntervalMs":15000}{"efficiencyScore":,"answerRate":,"abandonmentRate":,',
    '"complianceViolationFrequency":0,"totalCalls":',
    '{"name":"","startDateTime":"20","targetListId":"","skillGroupId":"","complianceTimeZone":"America/',
    '"allowedCallTimes":[{"days":["mon","tue","wed","thu","fri","sat","sun"],"start":"09:00","end":"20:00"}],',
    '"dialerStrategy":{"strategy":"predictive","agentCapacity":,"callRate":0.,"answerRate":0.},',
    '"pacing":{"strategy":"abandonment-target","targetAbandonment":0.025,"pollIntervalMs":15000}}',
    '{"version":,"status":"active","createdAt":"20","updatedAt":"20',
    '"totalCalls":,"answeredCalls":,"abandonedCalls":,"complianceViolations":0,"agentUtilization":,"at":"20',
    '"lastAdjustment":{"at":"20","commandId":"","from":0.,"to":0.,"reason":"pacing"},',
    '"lastDecision":{"strategy":"abandonment-target","inputs":{"targetAbandonment":0.025,',
    '"cumulativeAbandonment":0.0,"periodAnswered":,"periodAbandoned":,"windowAbandonment":0,',
    '"windowAnswered":,"windowAbandoned":,"windowTarget":0.025,"agentUtilization":,"guardActive":false},',
    '"previousCallRate":0.,"callRate":0.,"direction":"hold","reason":"","at":"20',
    '{"strategy":"abandonment-target","state":{"callRate":0.,"window":{"atMs":,"answered":,"abandoned":},',
    '"checkpoint":{"atMs":,"answered":,"abandoned":},"period":{"atMs":,"answered":,"abandoned":},',
    '"last":{"atMs":,"answered":,"abandoned":},',
  ].join(''),
);

/**
 * A 4 KiB window holds the dictionary and any field a record has: the bytes are the same as with
 * zlib's 32 KiB default (checked on 400 configs and pacing decisions up to 3.5 KB), and inflating
 * needs no setting. The smaller window and hash table make each call set up about 30 KiB of state
 * instead of about 260 KiB: about 4 % less CPU for the launch worker, which deflates twice per
 * campaign record write (docs/fleet-benchmark.md, _Seventh pass_).
 */
const DEFLATE_OPTIONS = { level: 9, dictionary: DICTIONARY_V1, windowBits: 12, memLevel: 5 } as const;

/** A field's JSON text as stored: deflated when that is shorter, else as it is. */
export function packText(json: string): Buffer {
  const plain = Buffer.from(json, 'utf8');
  if (plain.length < MIN_DEFLATE_LENGTH) return plain;
  const deflated = deflateRawSync(plain, DEFLATE_OPTIONS);
  if (deflated.length + 1 >= plain.length) return plain;
  return Buffer.concat([Buffer.from([DEFLATE_V1]), deflated]);
}

/** The JSON text of a stored field value (see packText). */
export function unpackText(stored: Buffer): string {
  if (stored.length > 0 && stored[0] === DEFLATE_V1) {
    return inflateRawSync(stored.subarray(1), { dictionary: DICTIONARY_V1 }).toString('utf8');
  }
  return stored.toString('utf8');
}
