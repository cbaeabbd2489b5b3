import { createHash } from 'node:crypto';
import { isLoopbackHost } from './loopback-host.js';
import { redactUrl } from './redact-url.js';

/*
 * Which CXone a fleet works against, reduced to what may be shown and stored. Two fleets on one Redis
 * under one KEY_PREFIX take each other's jobs (BullMQ hands a job to whichever worker asks first), so
 * a campaign launched through one would be created and dialled on the other's tenant. The identity
 * is what decides where the work goes: the CXone base URL and the OAuth client (the tenant), never
 * the client secret — rotating a secret is the same fleet.
 */

export interface FleetIdentity {
  /** SHA-256 over what decides where the work goes; equal for every process of one fleet. */
  fingerprint: string;
  /** How the CXone is named to an operator: the base URL without credentials, plus the machine in sandbox mode. */
  cxone: string;
  /** This process runs the embedded sandbox: the fleet's CXone lives in its memory and dies with it. */
  sandbox: boolean;
  /**
   * Only for an explicit CXONE_BASE_URL on loopback: whether a stored fingerprint (the claim's or the
   * last-fleet record's) is the one releases before this one computed for this very fleet, when they
   * still folded the machine's name into every loopback URL. Such a fingerprint is this fleet's, so
   * a restart with this release is not refused by the record (or the live claim) its own processes
   * wrote. The machine is read from the stored `cxone` (`<url> on <machine>`) and the fingerprint is
   * recomputed from it: it matches only for this base URL and client id, on whichever machine (pod)
   * wrote it. A sandbox-mode fleet of that URL and client id has the same fingerprint on its machine
   * in every release: an embedded sandbox's is refused here, and formerFingerprints (fleet-claim.ts)
   * passes nothing this release wrote (its `scheme` mark) nor an embedded sandbox's record.
   * Offered for every URL those releases folded the machine into (foldedByFormerReleases), which
   * took `ip6-localhost`, `ip6-loopback` and `*.localhost` for loopback too.
   */
  isFormerFingerprint?(stored: PreviousFleet): boolean;
}

export interface FleetIdentityInput {
  /** The base URL the CXone client calls (for the embedded sandbox, the port actually bound). */
  cxoneBaseUrl: string;
  cxoneClientId: string;
  /** True when this process runs the embedded sandbox itself (role `all` without CXONE_BASE_URL). */
  embeddedSandbox: boolean;
  /**
   * CXONE_BASE_URL is unset (config.sandboxMode): the CXone is a sandbox of this machine, embedded
   * (role `all`) or the `sandbox` process at SANDBOX_PORT on loopback (split roles).
   */
  sandboxMode: boolean;
  /** This machine's name (os.hostname()): in sandbox mode the CXone is a different server on every machine. */
  hostname: string;
}

/**
 * Whether releases before this one folded the machine into this hostname's fingerprint: their own
 * loopback test, broader than isLoopbackHost. Not whether the host is safe to call loopback (the
 * API's HOST refusal asks that), only which fingerprints those releases wrote, so a fleet on
 * `http://ip6-localhost:…` or `http://proxy.localhost:…` is not refused by its own record at the
 * upgrade. Offering more costs nothing: a stored fingerprint matches only when recomputed equal, and
 * no sandbox-mode fleet's URL (127.0.0.1) has such a name.
 */
function foldedByFormerReleases(hostname: string): boolean {
  const name = hostname.toLowerCase();
  return (
    isLoopbackHost(name) || name === 'ip6-localhost' || name === 'ip6-loopback' || name.endsWith('.localhost')
  );
}

/** The base URL as the client resolves it: `HTTPS://Host:443/api/` and `https://host/api` are one CXone. */
function normaliseBaseUrl(url: string): { normalised: string; formerlyFolded: boolean } {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.hash = '';
    return {
      normalised: u.toString().replace(/\/+$/, ''),
      formerlyFolded: foldedByFormerReleases(u.hostname),
    };
  } catch {
    return { normalised: url, formerlyFolded: false };
  }
}

/** How the CXone of a process running the embedded sandbox is shown (before its URL). */
const EMBEDDED_SANDBOX_AT = 'the embedded sandbox at ';

/** Version 1 of the fingerprint's input; `machine` is null unless the CXone is this machine's sandbox. */
function fingerprintOf(normalised: string, clientId: string, machine: string | null): string {
  return createHash('sha256')
    .update(JSON.stringify(['cxo-fleet/1', normalised, clientId, machine]))
    .digest('hex');
}

export function fleetIdentity(input: FleetIdentityInput): FleetIdentity {
  const { normalised, formerlyFolded } = normaliseBaseUrl(input.cxoneBaseUrl);
  // In sandbox mode the CXone is a sandbox on this machine, another server on each machine: two
  // `npm start`s on two machines (each with its own embedded sandbox on the default port) are two
  // fleets, while an `all` process and a `worker` beside it calling its embedded sandbox are one.
  // An explicit CXONE_BASE_URL is taken at its word whatever its host: a loopback one is typically an
  // egress proxy or sidecar in every pod in front of the same CXone, and the pods are one fleet (the
  // client id still tells tenants apart).
  const machine = input.sandboxMode ? input.hostname : null;
  const fingerprint = fingerprintOf(normalised, input.cxoneClientId, machine);
  const where = redactUrl(input.cxoneBaseUrl);
  const sandbox = input.embeddedSandbox ? EMBEDDED_SANDBOX_AT : '';
  const identity: FleetIdentity = {
    fingerprint,
    cxone: `${sandbox}${where}${machine === null ? '' : ` on ${machine}`}`,
    sandbox: input.embeddedSandbox,
  };
  if (!input.sandboxMode && formerlyFolded) {
    // Releases before this one folded the machine in here too, and showed it as `<url> on <machine>`.
    identity.isFormerFingerprint = (stored) => {
      // Only an embedded sandbox (CXONE_BASE_URL unset, in every release) is shown this way: the very
      // fingerprint, but another machine's sandbox, never this fleet.
      if (stored.cxone.startsWith(EMBEDDED_SANDBOX_AT)) return false;
      const at = stored.cxone.lastIndexOf(' on ');
      if (at < 0) return false;
      const formerMachine = stored.cxone.slice(at + ' on '.length);
      return fingerprintOf(normalised, input.cxoneClientId, formerMachine) === stored.fingerprint;
    };
  }
  return identity;
}

/** The part of a fingerprint an operator copies into FLEET_TAKEOVER: long enough never to collide by chance. */
export const TAKEOVER_FINGERPRINT_CHARS = 12;

export function shortFingerprint(fingerprint: string): string {
  return fingerprint.slice(0, TAKEOVER_FINGERPRINT_CHARS);
}

/** The fleet the prefix's permanent record names: the last one that used it. */
export interface PreviousFleet {
  cxone: string;
  fingerprint: string;
}

/** What the claim on a prefix says about the fleet holding it. */
export interface FleetHolder {
  cxone: string;
  /** Processes of that fleet that renewed the claim within its TTL. */
  liveProcesses: number;
  /** Until the claim lapses unless one of them renews it. */
  expiresInMs: number;
}

function seconds(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))} s`;
}

/**
 * The one line a process prints when another fleet holds its prefix: what clashes, where each fleet's
 * work goes, and the operator's two ways out.
 */
export function prefixInUseMessage(args: {
  keyPrefix: string;
  ours: FleetIdentity;
  holder: FleetHolder;
  ttlMs: number;
}): string {
  const { keyPrefix, ours, holder, ttlMs } = args;
  // Same URL, different fingerprint: only CXONE_CLIENT_ID (or the machine) tells them apart, and the
  // client id is not shown.
  const sameUrl = holder.cxone === ours.cxone ? ' (same URL, another CXONE_CLIENT_ID)' : '';
  const processes = holder.liveProcesses === 1 ? '1 live process' : `${holder.liveProcesses} live processes`;
  return (
    `KEY_PREFIX ${keyPrefix} is in use on this Redis by another fleet, working against CXone ` +
    `${holder.cxone} (${processes}); this process works against CXone ${ours.cxone}${sameUrl}. ` +
    `Sharing a prefix would run each fleet's jobs on the other's CXone: set another KEY_PREFIX for ` +
    `this fleet, or stop the other one (its claim is released when its last process stops cleanly, ` +
    `or expires ${seconds(ttlMs)} after its last process died; now ${seconds(holder.expiresInMs)} left ` +
    `unless renewed).`
  );
}

/**
 * The one line a process prints when no process of another fleet is live on its prefix, but that
 * fleet was the last to use it: its jobs may still wait in the queues.
 */
export function prefixLastUsedMessage(args: {
  keyPrefix: string;
  ours: FleetIdentity;
  previous: PreviousFleet;
}): string {
  const { keyPrefix, ours, previous } = args;
  const sameUrl = previous.cxone === ours.cxone ? ' (same URL, another CXONE_CLIENT_ID)' : '';
  const fp = shortFingerprint(previous.fingerprint);
  return (
    `KEY_PREFIX ${keyPrefix} was last used on this Redis by another fleet, working against CXone ` +
    `${previous.cxone} (fleet ${fp}, no process of it live now); this process works against CXone ` +
    `${ours.cxone}${sameUrl}. That fleet's jobs may still wait in the queues (delayed launches and ` +
    `activations, the polls, call windows and changes of its campaigns) and would run against this ` +
    `fleet's CXone: set another KEY_PREFIX for this fleet, or, once those jobs are removed (or are ` +
    `meant for this CXone), start one process with FLEET_TAKEOVER=${fp} to make the prefix this fleet's.`
  );
}

/**
 * The line a process logs when it takes the prefix over from the fleet that used it last: at warn
 * for FLEET_TAKEOVER (the audit trail of jobs moving to another CXone), at info for an embedded
 * sandbox following another, which is the design (SANDBOX_PORT=0 makes another sandbox at every start).
 */
export function prefixTakenOverMessage(args: {
  keyPrefix: string;
  ours: FleetIdentity;
  previous: PreviousFleet;
  how: 'takeover' | 'sandbox';
}): string {
  const { keyPrefix, ours, previous, how } = args;
  const fp = shortFingerprint(previous.fingerprint);
  if (how === 'sandbox') {
    return (
      `this fleet (CXone ${ours.cxone}) follows fleet ${fp} (CXone ${previous.cxone}) on KEY_PREFIX ` +
      `${keyPrefix}, as expected: embedded sandboxes follow each other without FLEET_TAKEOVER, since ` +
      `their campaigns live only in the memory of the process that ran them; jobs that sandbox left ` +
      `in the queues now run against this one`
    );
  }
  return (
    `this fleet (CXone ${ours.cxone}) takes KEY_PREFIX ${keyPrefix} over from fleet ` +
    `${fp} (CXone ${previous.cxone}), which used it last, since FLEET_TAKEOVER=${fp} is set; ` +
    `jobs that fleet left in the queues now run against this fleet's CXone, and processes of that fleet are refused from now on`
  );
}

/** The error a running process logs when another fleet's claim appears on its prefix. */
export function prefixContestedMessage(args: {
  keyPrefix: string;
  ours: FleetIdentity;
  other: string;
  /** we-hold: the other fleet contests our claim; they-hold: it holds the prefix now; took-over: it made the prefix its own and has no live claim. */
  state: 'we-hold' | 'they-hold' | 'took-over';
}): string {
  const { keyPrefix, ours, other, state } = args;
  const lapsed = `this fleet's claim lapsed: Redis unreachable, or processes stalled, for longer than the claim's TTL`;
  if (state === 'took-over') {
    return (
      `another fleet, working against CXone ${other}, took KEY_PREFIX ${keyPrefix} over while ${lapsed}; ` +
      `this fleet works against CXone ${ours.cxone}. Workers of this process take no jobs any more, ` +
      `since the queues may hold that fleet's jobs: stop this process (it will be refused at start-up ` +
      `until FLEET_TAKEOVER names that fleet).`
    );
  }
  const how =
    state === 'we-hold'
      ? `a process of another fleet, working against CXone ${other}, is running on KEY_PREFIX ${keyPrefix} too (it found this fleet's claim when it renewed its own)`
      : `another fleet, working against CXone ${other}, now holds KEY_PREFIX ${keyPrefix} (${lapsed})`;
  return (
    `${how}; this fleet works against CXone ${ours.cxone}. Workers of this process stop taking jobs ` +
    `until one fleet is gone, since either could run the other's jobs on the wrong CXone: stop one ` +
    `fleet, and restart the other under its own KEY_PREFIX if both must run.`
  );
}
