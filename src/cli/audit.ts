import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import type { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { alertBrokenChains } from '../shared/audit/alerts.js';
import { OutputFileError, writeReplacing } from './replace-file.js';
import {
  AuditTrimLockedError,
  createAuditTrail,
  type RetentionProgress,
  type VerifyResult,
} from '../shared/audit/trail.js';
import { ConfigError, loadConfig } from '../shared/config.js';
import { createEventPublisher } from '../shared/events/publisher.js';
import { createKeys, QUEUES } from '../shared/keys.js';
import { pino } from 'pino';
import { REDACT_PATHS } from '../shared/logger.js';
import { redactUrl } from '../shared/redact-url.js';
import { createRedis } from '../shared/redis.js';

/**
 * `npm run audit -- <command>`: works on the audit trail in Redis directly (no API needed), so it
 * also serves when the fleet is down.
 *   export [campaignId] [--out file]   JSONL, one record per line, in append order
 *   verify [campaignId] [--json]       exit 0 when every chain holds, 2 naming the first broken link
 *   trim                               apply AUDIT_RETENTION_DAYS now (does nothing when it is 0): the
 *                                      trail's older records, campaigns finished before then with
 *                                      their chains, and the chains of expired launches; exit 3 when
 *                                      another trim is running (it holds the trim lock); exit 1 when
 *                                      it stops midway, saying what it had removed by then
 */

/**
 * `busy`: another trim holds the trim lock, and this one changed nothing. Refused rather than waited
 * for: the running trim does the same work (a trim cuts everything older than the retention), so a
 * cron run overlapping another (a slow trim, or the same crontab on two hosts) has nothing left to
 * do, and a queue of waiting trims would only pile up behind a slow one. Its own code, so a cron
 * wrapper can tell "skipped, another is trimming" from a failure.
 */
export const AUDIT_EXIT = { ok: 0, error: 1, broken: 2, busy: 3 } as const;

export const AUDIT_USAGE = `usage: npm run audit -- <command>   (built, as in the image: node dist/cli/audit.js <command>)
  export [campaignId] [--out file]   write the trail (one campaign or all) as JSONL, records as stored;
                                     exit 2 when the campaign's index names records the trail lacks
  verify [campaignId] [--json]       check the hash chains; exit 2 and name the first broken link
  trim                               trim records older than AUDIT_RETENTION_DAYS (0 = keep all), and
                                     remove campaigns completed or cancelled before then with their
                                     audit chains, and the chains of expired launches;
                                     exit 3, changing nothing, while another trim is running;
                                     exit 1 if it stops midway, saying what it had removed`;

export type AuditCommand =
  | { kind: 'export'; campaignId?: string; out?: string }
  | { kind: 'verify'; campaignId?: string; json: boolean }
  | { kind: 'trim' }
  | { kind: 'help' };

export function parseAuditArgs(
  argv: readonly string[],
): { ok: true; command: AuditCommand } | { ok: false; error: string } {
  const [name, ...rest] = argv;
  const positional: string[] = [];
  let out: string | undefined;
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--out' || arg === '-o') {
      out = rest[++i];
      if (!out) return { ok: false, error: '--out needs a file name' };
    } else if (arg.startsWith('--out=')) {
      out = arg.slice('--out='.length);
      // `--out=` with nothing after it would otherwise write to stdout, not to the file meant.
      if (!out) return { ok: false, error: '--out needs a file name' };
    } else if (arg === '--json') json = true;
    else if (arg.startsWith('-')) return { ok: false, error: `unknown option ${arg}` };
    else positional.push(arg);
  }
  if (positional.length > 1) return { ok: false, error: `unexpected argument ${positional[1]}` };
  const campaignId = positional[0];
  switch (name) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { ok: true, command: { kind: 'help' } };
    case 'export':
      if (json) return { ok: false, error: 'export always writes JSONL; --json is for verify' };
      return {
        ok: true,
        command: { kind: 'export', ...(campaignId ? { campaignId } : {}), ...(out ? { out } : {}) },
      };
    case 'verify':
      if (out) return { ok: false, error: '--out is for export' };
      return { ok: true, command: { kind: 'verify', json, ...(campaignId ? { campaignId } : {}) } };
    case 'trim':
      if (campaignId || out || json) return { ok: false, error: 'trim takes no arguments' };
      return { ok: true, command: { kind: 'trim' } };
    default:
      return { ok: false, error: `unknown command ${name}` };
  }
}

/**
 * One campaign asked for and no record found: a mistyped id, most likely, which an empty export (or
 * an "ok: 0 records") would pass off as a campaign with nothing on record. The whole trail may be empty.
 * Or the shell's KEY_PREFIX is not the fleet's (`npm start` with a KEY_PREFIX of its own, this without
 * it): the line names where it looked, so that reads as what it is.
 */
function noRecords(campaignId: string | undefined, where: { keyPrefix: string; redisUrl: string }): number {
  if (campaignId === undefined) return AUDIT_EXIT.ok;
  console.error(
    `no audit records for campaign ${campaignId} under KEY_PREFIX ${where.keyPrefix} at ${redactUrl(where.redisUrl)}: ` +
      "check the id, and that KEY_PREFIX and REDIS_URL are the fleet's",
  );
  return AUDIT_EXIT.error;
}

/**
 * What a trim removed, for its line on stdout, or, after it failed midway, for the line saying what it
 * had removed before it stopped: an operator must know what is gone before running it again.
 */
export function describeRetention(done: RetentionProgress, retentionDays: number, stopped = false): string {
  const trail =
    done.minId === undefined
      ? 'nothing trimmed'
      : done.trailTrimmed
        ? `trimmed ${done.removedRecords} record(s) older than ${retentionDays} day(s) (before stream id ${done.minId})`
        : // Stopped after the stream's trim and before its cut was cleared: those records are gone too.
          `begun cutting records before stream id ${done.minId} (${done.removedRecords} record(s) removed so far), not finished (verify says so; the next trim finishes it)`;
  return (
    (stopped ? 'before it stopped, the trim had: ' : '') +
    `${trail}; removed ${done.removedCampaigns} campaign(s) completed or cancelled before then ` +
    `(record and campaigns-index entry; ${done.removedComplianceKeys} compliance key(s) with them); ` +
    `removed ${done.removedChains} audit chain(s) left empty by the retention (of those campaigns, of launches whose record has expired, and of ids with no campaign record)`
  );
}

export function describeVerification(result: VerifyResult): string {
  const trim = result.unfinishedTrim;
  const unfinished = trim
    ? `\nnote: a retention trim (records before ${trim.before}) has not finished: ${trim.pendingRecords} record(s) ` +
      'out of retention are still stored and were not checked; ' +
      (trim.runningBy
        ? `it is running now (${trim.runningBy.host} pid ${trim.runningBy.pid}, since ${trim.runningBy.since}) and finishes on its own`
        : 'run npm run audit -- trim to finish it')
    : '';
  return describeChains(result) + unfinished;
}

function describeChains(result: VerifyResult): string {
  if (result.ok) {
    const cuts = result.retentionCuts ?? [];
    const [only] = cuts;
    if (result.checked === 0 && result.campaigns === 1 && cuts.length === 1 && only) {
      return (
        `ok: campaign ${only.campaignId}: every record was trimmed by retention ` +
        `(${only.before ? `records before ${only.before} removed` : 'cut by an earlier release, date unknown'}); ` +
        `its chain's head is its retention anchor ${only.anchor}`
      );
    }
    const latest = cuts
      .flatMap((c) => (c.before === null ? [] : [c.before]))
      .sort()
      .at(-1);
    const undated = cuts.filter((c) => c.before === null).length;
    return (
      `ok: ${result.checked} records in ${result.campaigns} audit chain(s) verified (campaigns' and launches')` +
      (cuts.length === 0
        ? ''
        : `; ${cuts.length} chain(s) start at a retention cut (` +
          [
            ...(latest ? [`latest: records before ${latest} removed`] : []),
            ...(undated ? [`${undated} cut by an earlier release, date unknown`] : []),
          ].join('; ') +
          ')')
    );
  }
  const lines = result.broken.map(
    (b) =>
      `BROKEN campaign ${b.campaignId}: record ${b.auditId ?? '(none)'} at index ${b.index}: ${b.reason}` +
      (b.streamId ? ` (stream id ${b.streamId})` : '') +
      // Which of the chain's keys was replaced (its head or its index), and by what: the line names no
      // record, and without this only --json said which key to look at.
      (b.reason === 'damaged_key'
        ? ` (${b.actual ?? '?'}, where the trail writes ${b.expected ?? '?'})`
        : ''),
  );
  return [
    `FAILED: ${result.broken.length} broken chain(s) after checking ${result.checked} records`,
    ...lines,
  ].join('\n');
}

async function write(stream: Writable, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

export async function runAuditCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const parsed = parseAuditArgs(argv);
  if (!parsed.ok) {
    console.error(`${parsed.error}\n${AUDIT_USAGE}`);
    return AUDIT_EXIT.error;
  }
  const { command } = parsed;
  if (command.kind === 'help') {
    console.log(AUDIT_USAGE);
    return AUDIT_EXIT.ok;
  }
  let config;
  try {
    // It listens on nothing: the HOST of the fleet it is run next to is not its to refuse.
    config = loadConfig(env, { servesApi: false });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return AUDIT_EXIT.error;
    }
    throw err;
  }
  // Logs go to stderr so `export` can write JSONL to stdout.
  const logger = pino(
    {
      level: config.logLevel === 'info' ? 'warn' : config.logLevel,
      base: { service: 'cxone-orchestrator', tool: 'audit' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    pino.destination(2),
  );
  const redis = createRedis(config.redisUrl, {
    maxRetriesPerRequest: 2,
    retryStrategy: (n) => (n > 3 ? null : 200),
  });
  redis.on('error', () => undefined);
  const keys = createKeys(config.keyPrefix);
  const trail = createAuditTrail({ redis, keys, logger, retentionDays: config.auditRetentionDays });
  /** Alerts a broken chain's watchers; a failure is said on stderr, apart from the result, never thrown. */
  const alert = async (result: VerifyResult): Promise<void> => {
    const failures: string[] = [];
    const describe = (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      const where =
        redis.status === 'ready' ? '' : `cannot reach Redis at ${redactUrl(config.redisUrl)} (REDIS_URL): `;
      return `${where}${message}`;
    };
    try {
      const queue = new Queue(QUEUES.webhook, { connection: redis, prefix: keys.prefix });
      const webhooksEnabled = config.webhook !== undefined;
      try {
        const events = createEventPublisher({
          redis,
          keys,
          logger,
          webhookQueue: queue,
          enabled: webhooksEnabled,
        });
        await alertBrokenChains(
          {
            redis,
            keys,
            events,
            logger,
            webhooksEnabled,
            onFailure: (b, err) =>
              failures.push(
                `alert for campaign ${b.campaignId} (${b.reason}) not published: ${describe(err)}`,
              ),
          },
          result,
        );
      } finally {
        await queue.close();
      }
    } catch (err) {
      failures.push(`alerts not published: ${describe(err)}`);
    }
    for (const failure of failures) {
      console.error(
        `audit verify: the chain is broken (result above), but its ${failure}; the next verify tries again`,
      );
    }
  };
  /** What a trim that failed midway had removed by then. */
  let stoppedAfter: string | undefined;
  try {
    switch (command.kind) {
      case 'export': {
        // Records the campaign's index names that the stream no longer has: the export goes on without
        // them, and ends saying so (exit 2, as verify does for a broken chain) rather than as complete.
        const missing: { streamId: string; auditId: string | null }[] = [];
        const lines = () => trail.exportJsonl(command.campaignId, { onMissing: (m) => missing.push(m) });
        const incomplete = (written: number): number => {
          const [first] = missing;
          console.error(
            `export incomplete: ${missing.length} record(s) of campaign ${command.campaignId} are missing from the trail ` +
              `(first: ${first?.auditId ?? '(unknown record)'}, stream id ${first?.streamId}); ${written} record(s) written; ` +
              `run npm run audit -- verify ${command.campaignId}`,
          );
          return AUDIT_EXIT.broken;
        };
        if (!command.out) {
          // A reader that stops reading (`| head`) closes the pipe: the end of the output it wanted, as
          // for `cxo watch`, not a failed export. Listened for until exit: a late EPIPE would crash.
          let outputError: NodeJS.ErrnoException | undefined;
          process.stdout.on('error', (err: NodeJS.ErrnoException) => (outputError ??= err));
          let written = 0;
          try {
            for await (const line of lines()) {
              if (outputError || process.stdout.destroyed) break;
              await write(process.stdout, line);
              written++;
            }
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
            outputError ??= err as NodeJS.ErrnoException;
          }
          if (outputError && outputError.code !== 'EPIPE') throw outputError;
          if (missing.length > 0) return incomplete(written);
          return written === 0 && !outputError ? noRecords(command.campaignId, config) : AUDIT_EXIT.ok;
        }
        let count = 0;
        // Nothing is written before Redis has answered with a record: an export that cannot reach
        // Redis, or finds no record for the id given (a typo), leaves the file already at that path —
        // the last good export, say — as it was; one that fails after is written beside it and never
        // renamed over it (writeReplacing).
        const source = lines()[Symbol.asyncIterator]();
        const first = await source.next();
        if (first.done && missing.length === 0 && command.campaignId !== undefined) {
          return noRecords(command.campaignId, config);
        }
        try {
          await writeReplacing(
            command.out,
            (async function* () {
              if (first.done) return;
              count++;
              yield first.value;
              for (let next = await source.next(); !next.done; next = await source.next()) {
                count++;
                yield next.value;
              }
            })(),
          );
        } catch (err) {
          // The file's failure, said as such: it would otherwise be put down to Redis ("cannot reach
          // Redis at …").
          if (err instanceof OutputFileError) {
            console.error(`audit export failed: ${err.message}`);
            return AUDIT_EXIT.error;
          }
          throw err;
        }
        if (missing.length > 0) return incomplete(count);
        if (count === 0) return noRecords(command.campaignId, config);
        console.error(`exported ${count} audit record(s) to ${command.out}`);
        return AUDIT_EXIT.ok;
      }
      case 'verify': {
        const result = await trail.verify(command.campaignId);
        if (command.campaignId && result.ok && result.checked === 0 && !result.retentionCuts?.length) {
          // Nothing to verify is not "intact": a mistyped id must not read as a clean bill. (A chain
          // retention trimmed every record of has its cut, and is reported as such.)
          return noRecords(command.campaignId, config);
        }
        // The result first: whatever becomes of the alerts, the verification is said and its exit
        // code is the chain's.
        console.log(command.json ? JSON.stringify(result) : describeVerification(result));
        if (!result.ok) await alert(result);
        return result.ok ? AUDIT_EXIT.ok : AUDIT_EXIT.broken;
      }
      case 'trim': {
        const progress: RetentionProgress = {
          trailTrimmed: false,
          removedRecords: 0,
          removedCampaigns: 0,
          removedComplianceKeys: 0,
          removedChains: 0,
        };
        let result;
        try {
          result = await trail.applyRetention({ progress });
        } catch (err) {
          if (err instanceof AuditTrimLockedError) {
            console.error(`audit trim skipped: ${err.message}`);
            return AUDIT_EXIT.busy;
          }
          // Stopped midway (its lock lost, Redis gone): said with the failure, below.
          stoppedAfter = describeRetention(progress, config.auditRetentionDays, true);
          throw err;
        }
        if (result.resumed) {
          console.log(
            `finishing a retention trim that did not finish (its cut: stream id ${result.resumed})`,
          );
        }
        console.log(
          result.applied
            ? describeRetention({ ...result, trailTrimmed: true }, result.retentionDays)
            : 'AUDIT_RETENTION_DAYS is 0: nothing trimmed',
        );
        return AUDIT_EXIT.ok;
      }
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // ioredis's own words ("Reached the max retries per request limit") name neither Redis nor where.
    const where =
      redis.status === 'ready' ? '' : `cannot reach Redis at ${redactUrl(config.redisUrl)} (REDIS_URL): `;
    console.error(`audit ${command.kind} failed: ${where}${message}`);
    if (stoppedAfter !== undefined) console.error(stoppedAfter);
    return AUDIT_EXIT.error;
  } finally {
    redis.disconnect();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runAuditCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = AUDIT_EXIT.error;
    },
  );
}
