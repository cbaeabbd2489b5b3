import type { CommandRecordBody } from '../shared/responses/commands.js';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { checkCampaignConfig } from '../shared/campaign-check.js';
import { STRICT_POLICY } from '../shared/compliance/deployment-policy.js';
import { DUPLICATE_KEY_MESSAGE, duplicateKeyPath } from '../shared/json-duplicate-keys.js';
import { API_BODY_LIMIT_BYTES } from '../shared/http/body-limit.js';
import { strictUtf8 } from '../shared/http/utf8-body.js';
import {
  ApiClient,
  ApiError,
  ApiUrlError,
  CLIENT_TIMEOUT_MS,
  exitCodeForError,
  InterruptedError,
  isResourceNotFound,
  JsonText,
  NetworkError,
  type ApiResponse,
} from './api-client.js';
import {
  DEFAULT_API_TOKEN,
  EXIT,
  USAGE,
  jsonRequested,
  parseCliArgs,
  usageHint,
  type Command,
  type ExitCode,
  type GlobalOptions,
  type TokenSource,
} from './args.js';
import {
  describeAuditGap,
  errorText,
  formatAuditRecord,
  formatCampaign,
  formatIssues,
  formatLaunch,
  printableLine,
  isFinalCampaign,
  isFinalLaunch,
  progressLine,
  type AuditGapView,
  type AuditPageView,
  type CampaignViewLoose,
  type DeepPartial,
  type IssueView,
  type LaunchView,
} from './format.js';
import { jsonErrorOffset } from './json-error-offset.js';
import { delayText, isTransient, retryDelayMs } from './retry.js';

/** Everything the CLI touches outside itself, injectable so tests drive it without a terminal. */
export interface CliIo {
  /** A line (a newline is added when missing). */
  out(text: string): void;
  err(text: string): void;
  /** Raw text, for redrawing a progress line in place. */
  write(text: string): void;
  /** True when stdout is a terminal: progress and watch redraw in place instead of appending lines. */
  isTty: boolean;
  /** A file's bytes, decoded as UTF-8 strictly by cxo (or a text already decoded, in tests). */
  readFile(path: string): Promise<string | Uint8Array>;
  /** Where relative FILE arguments are resolved but under `npm run cxo` (INIT_CWD); as given when neither is. */
  cwd?: string;
  fetchImpl?: typeof fetch;
  /**
   * Aborted on Ctrl-C, request in flight included: a launch wait ends cleanly with exit 0, `watch`
   * as its doc comment says (0 unless its polls were failing), a one-shot request with exit 130.
   */
  signal?: AbortSignal;
  /** Poll period while waiting for a launch. */
  pollMs?: number;
}

export function processIo(signal?: AbortSignal): CliIo {
  return {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    write: (t) => process.stdout.write(t),
    isTty: Boolean(process.stdout.isTTY),
    readFile: (p) => readFile(p),
    cwd: process.cwd(),
    ...(signal ? { signal } : {}),
  };
}

const CLEAR = '\x1b[2J\x1b[H';
const enc = encodeURIComponent;

async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await sleepMs(ms, undefined, signal ? { signal } : {});
    return true;
  } catch {
    return false; // aborted
  }
}

/** While a loop's polls fail: the latest failure, since when, how many in a row, and the pause before the next try. */
interface Failing {
  err: NetworkError | ApiError;
  since: string;
  count: number;
  delayMs: number;
}

/**
 * One more failed poll, and the pause before the next (retry.ts: the same policy for watch and the
 * waits), cut at `deadline` when the loop has one: the wait ends there, with its timeout's report.
 */
function failedAgain(
  failing: Failing | undefined,
  err: NetworkError | ApiError,
  periodMs: number,
  deadline = Number.POSITIVE_INFINITY,
): Failing {
  const count = (failing?.count ?? 0) + 1;
  const now = Date.now();
  const delayMs = Math.max(0, Math.min(retryDelayMs(err, count, periodMs, now), deadline + 1 - now));
  return { err, since: failing?.since ?? new Date(now).toISOString(), count, delayMs };
}

/** Pure: the one line that says a poll failed and when the next comes. */
function retryingNote(f: Failing): string {
  const what = f.err instanceof NetworkError ? 'API unreachable' : 'API error';
  return `${what}, retrying in ${delayText(f.delayMs)}: ${errorText(f.err)}`;
}

/**
 * A poll of a wait gets no more time than the wait has left (but at least a second): a hung API must
 * not keep `--timeout 10` waiting for the client's 30 s.
 */
function pollTimeoutMs(deadline: number): number {
  return Math.min(CLIENT_TIMEOUT_MS, Math.max(1000, Math.ceil((deadline - Date.now()) / 1000) * 1000));
}

/** Pure: what a wait that timed out while its polls failed adds to its report. */
function failingDetail(f: Failing | undefined): { text: string; json: Record<string, unknown> } {
  if (!f) return { text: '', json: {} };
  return {
    text: `; every poll since ${f.since} failed (latest: ${errorText(f.err)})`,
    json: { failingSince: f.since, pollError: describeError(f.err).json },
  };
}

/**
 * Pure: the path a FILE argument names. `npm run cxo` runs in the package root, so a path typed in
 * a subdirectory is resolved against INIT_CWD, where npm was invoked. Only then: npm leaves INIT_CWD
 * in the environment of every process beneath any script, so an npm script of another name that runs
 * cxo (`cd campaigns && cxo launch spring.json`, or `cxo launch campaigns/a.json` written against the
 * package root) read its path against the directory npm was typed in — a missing file, or another
 * file of the same name launched.
 */
export function resolveFileArg(
  file: string,
  env: Record<string, string | undefined>,
  cwd: string | undefined,
): string {
  const base = (env.npm_lifecycle_event === 'cxo' && env.INIT_CWD) || cwd;
  return base ? resolve(base, file) : file;
}

/** A failure as `--json` prints it: the API's error body when the API answered, else the CLI's own. */
export interface FailureJson {
  error: string;
  message: string;
  /**
   * The HTTP status of the API's answer, when the failure is one. Not `status`: some error bodies
   * carry that already (the campaign's status, on a 409 invalid_state), and it is kept as sent.
   */
  httpStatus?: number;
  /** What to do next, when there is something to do. */
  hint?: string;
  [detail: string]: unknown;
}

/** How a command failed: lines for people (stderr), one object for scripts (stdout with --json). */
export interface Failure {
  code: ExitCode;
  lines: string[];
  json: FailureJson;
}

function failure(
  code: ExitCode,
  error: string,
  message: string,
  details: Record<string, unknown> = {},
): Failure {
  return { code, lines: [message], json: { error, message, ...details } };
}

function withHint(f: Failure, hint: string): Failure {
  return {
    ...f,
    lines: [...f.lines, hint],
    json: { ...f.json, hint: f.json.hint ? `${f.json.hint}; ${hint}` : hint },
  };
}

/** What the failing request was about, so the report can say how to look at it. */
export interface ErrorContext {
  /** The campaign a command was sent for. */
  campaignId?: string;
  /** A launch the API had accepted before the failure (a wait that could not go on). */
  acceptedLaunchId?: string;
}

/**
 * Pure: how to look at a launch or command an error names. A 503 at the API's deadline names the
 * launch or command it was making, which may have been enqueued after all; a 409 names the launch
 * still running; a 422 the launch an idempotency key already stands for.
 */
function idHint(json: FailureJson, context: ErrorContext): string | undefined {
  const { launchId, commandId } = json;
  if (typeof launchId === 'string') {
    return launchId === context.acceptedLaunchId
      ? `launch ${launchId} was accepted and goes on; follow it with cxo status ${launchId}`
      : `launch ${launchId}: see where it stands with cxo status ${launchId}`;
  }
  if (typeof commandId === 'string') {
    // A 422 names the campaign its key's command is on, which need not be the id it was sent to.
    const campaignId = typeof json.campaignId === 'string' ? json.campaignId : context.campaignId;
    return campaignId
      ? `command ${commandId}: whether it ran shows in cxo status ${campaignId} (last cmd)`
      : `command ${commandId}: GET /v1/commands/${commandId} says whether it ran`;
  }
  return undefined;
}

const errorCodes: [new (...args: never[]) => Error, string][] = [
  [ApiUrlError, 'wrong_api_url'],
  [NetworkError, 'api_unreachable'],
  [InterruptedError, 'interrupted'],
];

/** Pure: the report of an error a request threw (ApiError, ApiUrlError, NetworkError, InterruptedError, a bug). */
export function describeError(err: unknown, context: ErrorContext = {}): Failure {
  const message = err instanceof Error ? err.message : String(err);
  // The API's own message is in it: one line for people whatever it holds (a line break in it would
  // print a line cxo never wrote); scripts get it as sent (json).
  const lines = [printableLine(message)];
  let json: FailureJson;
  if (err instanceof ApiError) {
    const body =
      typeof err.body === 'object' && err.body !== null && !Array.isArray(err.body)
        ? (err.body as Record<string, unknown>)
        : {};
    if (Array.isArray(body.issues) && body.issues.length > 0)
      lines.push(formatIssues(body.issues as IssueView[]));
    json = {
      ...body,
      error: typeof body.error === 'string' ? body.error : `http_${err.status}`,
      message: typeof body.message === 'string' ? body.message : message,
      httpStatus: err.status,
    };
  } else {
    const code = errorCodes.find(([type]) => err instanceof type)?.[1] ?? 'internal_error';
    json = { error: code, message, ...(err instanceof ApiUrlError ? { httpStatus: err.status } : {}) };
  }
  if (context.acceptedLaunchId && json.launchId === undefined) json.launchId = context.acceptedLaunchId;
  let report: Failure = { code: exitCodeForError(err), lines, json };
  // The API cannot tell a mistyped token from a forgotten one; cxo can say where it took it from.
  if (err instanceof ApiError && err.tokenRefused)
    report = withHint(report, unauthorizedHint(err.tokenSource));
  if (err instanceof ApiError && json.error === 'fleet_contested')
    report = withHint(report, FLEET_CONTESTED_HINT);
  const hint = idHint(json, context);
  return hint ? withHint(report, hint) : report;
}

/**
 * Pure: what to do about a 401, naming where the refused token came from (an API_TOKEN exported
 * for another fleet reads the same as a mistyped --token at the API). The token itself is not printed.
 */
export function unauthorizedHint(source: TokenSource | undefined): string {
  const fix = 'use the API_TOKEN the fleet was started with';
  switch (source) {
    case '--token':
      return `the token refused is the one given with --token (it overrides API_TOKEN); ${fix}`;
    case 'API_TOKEN':
      return `the token refused is API_TOKEN from the environment (--token overrides it); ${fix}`;
    case 'default':
      return `neither --token nor API_TOKEN is set, so cxo sent the default ${DEFAULT_API_TOKEN}, which only a fleet in sandbox mode accepts; ${fix}`;
    default:
      return `cxo sends the token from --token or API_TOKEN (default ${DEFAULT_API_TOKEN}, which only a fleet in sandbox mode accepts); ${fix}`;
  }
}

/**
 * What an operator does about the API's 503 `fleet_contested` (src/producers/fleet-guard.ts), whose
 * message names KEY_PREFIX and both CXones; the exit code stays the server's (5), as for any 503.
 */
export const FLEET_CONTESTED_HINT =
  "another fleet is on this API's KEY_PREFIX (fleet claim contested): nothing was launched, queued or changed. " +
  "Stop one of the two fleets, then run the same command again once the API's /readyz answers 200 " +
  '(a launch re-run with the same --idempotency-key is launched once)';

/** Prints a failure (stderr; with --json also one JSON object on stdout) and returns its exit code. */
function report(io: CliIo, json: boolean, f: Failure): ExitCode {
  // Each line's own breaks are cxo's (a list of issues, usage): what the API said in a line was made
  // printable where it was quoted, line breaks included, and the rest of each line is made so here.
  for (const line of f.lines) io.err(line.split('\n').map(printableLine).join('\n'));
  if (json) io.out(JSON.stringify(f.json));
  return f.code;
}

/** A config file as read: its value, and its text, which is what is sent (JsonText). */
interface ConfigFile {
  value: unknown;
  text: string;
  /** Keys the text gives twice in one object, as the API reports them. */
  duplicates: IssueView[];
}

/**
 * Pure: JSON.parse's message with the line and column of the error — from its "at position N", which
 * Node 20 gives alone, or, for the errors it names no position for (a character where a value belongs,
 * such as a comment or a single quote, and a file that ends too early), from where the text stops
 * being JSON: in a 40-line config an offset, or nothing, is of no use to the person who has to find
 * the stray comma. A message that already names the line (newer Node) is left as it is. The part of
 * the file JSON.parse quotes is made printable, so its line breaks do not split the message.
 */
export function jsonErrorWithLine(message: string, text: string): string {
  const quoted = printableLine(message);
  if (/\bline \d+/.test(message)) return quoted;
  const at = /at position (\d+)/.exec(message);
  const offset = at ? Number(at[1]) : jsonErrorOffset(text);
  if (offset === undefined) return quoted;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${quoted} (line ${line} column ${column})`;
}

/**
 * Pure: the line of the first byte of `bytes` that is not UTF-8. Lenient decoding replaces it (and
 * nothing before it), so the re-encoded text parts from the bytes there.
 */
export function firstNonUtf8Line(bytes: Buffer): number {
  const lenient = Buffer.from(bytes.toString('utf8'));
  let at = 0;
  while (at < bytes.length && bytes[at] === lenient[at]) at++;
  return bytes.subarray(0, at).filter((b) => b === 0x0a).length + 1;
}

/** `file` as the user typed it, for messages; `path` where it is read from. */
async function readConfigFile(
  io: CliIo,
  file: string,
  path: string,
): Promise<({ ok: true } & ConfigFile) | { ok: false; failure: Failure }> {
  let read: string | Uint8Array;
  try {
    read = await io.readFile(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    const absolute = resolve(path);
    return {
      ok: false,
      failure: failure(EXIT.usage, 'file_unreadable', `cannot read ${absolute}: ${reason}`, {
        path: absolute,
      }),
    };
  }
  // JSON is UTF-8 (RFC 8259 §8.1), and the API refuses other bytes (400 invalid_json). Decoded
  // leniently, the Latin-1 "é" of a file an older editor saved became U+FFFD in valid UTF-8 the API
  // took: "Caf\uFFFD outreach" was launched, stored and audited, and "valid" offline and online.
  let text = typeof read === 'string' ? read : strictUtf8(Buffer.from(read));
  if (text === undefined) {
    const bytes = Buffer.from(read as Uint8Array);
    return {
      ok: false,
      failure: failure(
        EXIT.validation,
        'invalid_json',
        `${file} is not valid JSON: it is not UTF-8 text (line ${firstNonUtf8Line(bytes)}); JSON files are UTF-8 (RFC 8259 §8.1): save it as UTF-8`,
        { file },
      ),
    };
  }
  // A UTF-8 byte order mark (Notepad, PowerShell's Out-File) is no part of the config: the API's JSON
  // parser ignores it (RFC 8259 §8.1 allows that), so refusing it here, before sending, quoted an
  // invisible character as "Unexpected token" in a file the API would take.
  if (text.startsWith('\ufeff')) text = text.slice(1);
  // The API answers a larger body with a 413 before reading it and closes the connection: a client
  // still sending a file of megabytes may see only that (EPIPE), which read as "cannot reach the
  // API; is it running?" (exit 5). Refused here, as the API would refuse it (2), sending nothing.
  const bytes = Buffer.byteLength(text);
  if (bytes > API_BODY_LIMIT_BYTES) {
    return {
      ok: false,
      failure: failure(
        EXIT.validation,
        'payload_too_large',
        `${file} is ${bytes} bytes, larger than the ${API_BODY_LIMIT_BYTES / 1024} KiB (${API_BODY_LIMIT_BYTES} bytes) the API accepts; a campaign config is a few KiB`,
        { file, limitBytes: API_BODY_LIMIT_BYTES },
      ),
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      failure: failure(
        EXIT.validation,
        'invalid_json',
        `${file} is not valid JSON: ${jsonErrorWithLine((err as Error).message, text)}`,
        {
          file,
        },
      ),
    };
  }
  // JSON.parse keeps the last of two equal keys: checked here, the file would read as valid while
  // the API refuses it, and offline there is nobody else to notice.
  const duplicate = duplicateKeyPath(text);
  const duplicates = duplicate === undefined ? [] : [{ path: duplicate, message: DUPLICATE_KEY_MESSAGE }];
  return { ok: true, value, text, duplicates };
}

/** Pure: the report of a launch refused before sending, for issues found in the file itself. */
function fileIssuesFailure(file: string, issues: IssueView[]): Failure {
  const message = `${file} is not a valid campaign config`;
  return {
    code: EXIT.validation,
    lines: [message, formatIssues(issues)],
    json: { error: 'validation_failed', message, issues, file },
  };
}

/**
 * Pure: the report of a launch the API refused for its config (400 with issues): the file named and
 * each problem once, as `cxo validate` lists them. The API's message repeats every issue on one long
 * line, which printed above the list doubled a wall of text; `--json` keeps the API's body as sent.
 */
export function invalidConfigFailure(file: string, err: unknown): Failure | undefined {
  if (!(err instanceof ApiError && err.status === 400)) return undefined;
  const issues = (err.body as { issues?: unknown } | null)?.issues;
  if (!Array.isArray(issues) || issues.length === 0) return undefined;
  const n = issues.length;
  return {
    ...describeError(err),
    lines: [
      `${file} is not a valid campaign config (${n} problem${n === 1 ? '' : 's'}); nothing was launched`,
      formatIssues(issues as IssueView[]),
    ],
  };
}

/**
 * Pure: what to tell someone who interrupted the launch request itself: the API may have accepted
 * it, and only the idempotency key makes a re-run safe.
 */
export function interruptedLaunchMessage(
  cmd: Pick<Extract<Command, { kind: 'launch' }>, 'file' | 'idempotencyKey'>,
  apiUrl: string,
): string {
  const unknown = 'interrupted before the API answered: the launch may or may not have been accepted';
  return cmd.idempotencyKey
    ? `${unknown}; to find out, re-run cxo launch ${cmd.file} --idempotency-key ${cmd.idempotencyKey} (it answers with the same launch if there is one, and never launches twice), then cxo status <launchId>`
    : `${unknown}, and without --idempotency-key a re-run may launch it twice; look for it in the launch queue (${apiUrl}/admin/queues) first`;
}

async function launch(
  cmd: Extract<Command, { kind: 'launch' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
  path: string,
) {
  const file = await readConfigFile(io, cmd.file, path);
  if (!file.ok) return report(io, opts.json, file.failure);
  if (file.duplicates.length > 0) return report(io, opts.json, fileIssuesFailure(cmd.file, file.duplicates));
  const headers: Record<string, string> = cmd.idempotencyKey ? { 'idempotency-key': cmd.idempotencyKey } : {};
  let answer: ApiResponse<LaunchView>;
  try {
    answer = await api.post<LaunchView>('/v1/campaigns', new JsonText(file.text), headers);
  } catch (err) {
    const refused = invalidConfigFailure(cmd.file, err);
    if (refused) return report(io, opts.json, refused);
    // Any other error goes to runCli, which names the launch an error body carries (describeError).
    if (!(err instanceof InterruptedError)) throw err;
    return report(
      io,
      opts.json,
      failure(EXIT.interrupted, 'interrupted', interruptedLaunchMessage(cmd, opts.apiUrl)),
    );
  }
  let launchView = answer.body;
  if (answer.headers.get('idempotent-replayed') === 'true' && !launchView.campaignId) {
    launchView = await launchRecord(api, launchView);
  }
  if (!cmd.wait) {
    io.out(opts.json ? JSON.stringify(launchView) : formatLaunch(launchView));
    // A replayed key answers with its launch as it stands: one that failed is no launch accepted, and a
    // script re-running the same launch to be safe must see the failure as a wait would (exit 4).
    return launchView.status === 'failed' ? EXIT.refused : EXIT.ok;
  }
  const started = Date.now();
  const deadline = started + cmd.timeoutSec * 1000;
  let frame = 0;
  let lastShown = '';
  const show = () => {
    if (opts.json) return;
    if (io.isTty) {
      io.write(`\r\x1b[2K${progressLine(launchView, Date.now() - started, frame++)}`);
      return;
    }
    // A log gets a line per change, a new failed try included, not one per poll.
    const shown = `${launchView.status}\n${launchView.lastError ?? ''}`;
    // No spinner frame: in a log it is noise, not motion.
    if (shown !== lastShown) io.out(progressLine(launchView, Date.now() - started));
    lastShown = shown;
  };
  const stopWaiting = () => {
    if (io.isTty && !opts.json) io.out('');
    io.err(`stopped waiting; the launch continues: cxo status ${launchView.launchId}`);
    // Exit 0 says the launch was accepted: a script must get its id, as --no-wait gives it.
    if (opts.json) io.out(JSON.stringify(launchView));
    return EXIT.ok;
  };
  const pollMs = io.pollMs ?? 500;
  /** While polls fail: a blip (the API's Redis reconnecting, a proxy's 502) is ridden out, as watch does. */
  let failing: Failing | undefined;
  show();
  while (!isFinalLaunch(launchView.status)) {
    if (Date.now() > deadline) {
      if (io.isTty && !opts.json) io.out('');
      const lastTry = launchView.lastError ? ` (last try: ${printableLine(launchView.lastError)})` : '';
      const polls = failingDetail(failing);
      return report(
        io,
        opts.json,
        failure(
          EXIT.server,
          'launch_timeout',
          `launch ${launchView.launchId} still ${launchView.status} after ${cmd.timeoutSec} s${lastTry}${polls.text}; follow it with: cxo status ${launchView.launchId}`,
          { launch: launchView, ...polls.json },
        ),
      );
    }
    if (!(await sleep(failing?.delayMs ?? pollMs, io.signal))) return stopWaiting();
    try {
      launchView = (
        await api.get<LaunchView>(`/v1/launches/${enc(launchView.launchId)}`, pollTimeoutMs(deadline))
      ).body;
      failing = undefined;
    } catch (err) {
      // Ctrl-C during a poll means the same as during the pause between polls.
      if (err instanceof InterruptedError) return stopWaiting();
      if (!isTransient(err)) {
        if (io.isTty && !opts.json) io.out('');
        // The launch was accepted: without its id the operator could not follow it once the API is back.
        return report(io, opts.json, describeError(err, { acceptedLaunchId: launchView.launchId }));
      }
      failing = failedAgain(failing, err, pollMs, deadline);
      const note = `launch ${launchView.launchId}: ${retryingNote(failing)}`;
      if (opts.json) io.err(`${new Date().toISOString()}  ${note}`);
      else if (io.isTty) io.write(`\r\x1b[2K${note}`);
      else io.out(note);
      // The progress line comes again once a poll answers, in a log too.
      lastShown = '';
      continue;
    }
    show();
  }
  if (io.isTty && !opts.json) io.out('');
  io.out(opts.json ? JSON.stringify(launchView) : formatLaunch(launchView));
  return launchView.status === 'succeeded' ? EXIT.ok : EXIT.refused;
}

async function validate(
  cmd: Extract<Command, { kind: 'validate' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
  path: string,
) {
  const file = await readConfigFile(io, cmd.file, path);
  if (!file.ok) return report(io, opts.json, file.failure);
  let result: { valid: boolean; issues: IssueView[] };
  if (file.duplicates.length > 0) {
    // The API refuses the text as such (400); the file's problem is reported as any other.
    result = { valid: false, issues: file.duplicates };
  } else if (cmd.offline) {
    // Judged by the default deployment policy (the do-not-call check stays on), as a fleet started
    // without ALLOW_DNC_DISABLED would: "valid" offline must not become 400 at launch.
    const { issues } = checkCampaignConfig(file.value, STRICT_POLICY);
    result = { valid: issues.length === 0, issues };
  } else {
    try {
      result = (
        await api.post<{ valid: boolean; issues: IssueView[] }>(
          '/v1/campaigns/validate',
          new JsonText(file.text),
        )
      ).body;
    } catch (err) {
      // A fleet that is down, or an API whose Redis is (503): validation itself needs neither.
      const apiDown = err instanceof NetworkError || (err instanceof ApiError && err.status >= 500);
      if (!apiDown) throw err;
      // The schema can be checked without a fleet; say so where it matters.
      return report(
        io,
        opts.json,
        withHint(describeError(err), `to check the file without the API: cxo validate --offline ${cmd.file}`),
      );
    }
  }
  if (opts.json) io.out(JSON.stringify(result));
  else if (result.valid) io.out(`${cmd.file}: valid`);
  else io.out(`${cmd.file}: ${result.issues.length} problem(s)\n${formatIssues(result.issues)}`);
  return result.valid ? EXIT.ok : EXIT.validation;
}

/**
 * The API's own "no such resource", or a 400 for an id that cannot be of that kind (launch ids are
 * UUIDs). A 404 from a wrong API_URL is an ApiUrlError and never lands here.
 */
const notThisKind = (err: unknown) =>
  err instanceof ApiError && ((err.status === 404 && isResourceNotFound(err.body)) || err.status === 400);

/**
 * Pure: the report of an id that names nothing. The API answers 404 for an id it does not know, but
 * 400 for one no campaign can have (a pasted space, a truncated or overlong copy): both mean there is
 * nothing by that id (exit 3, as `status` says), not an invalid config (2).
 */
export function unknownIdFailure(id: string, err: unknown): Failure {
  if (!(err instanceof ApiError && err.status === 400)) return describeError(err);
  const message = (err.body as { message?: unknown } | null)?.message;
  const why = typeof message === 'string' ? `: ${message}` : '';
  return failure(
    EXIT.notFound,
    'not_found',
    `no campaign or launch with id ${id} (the API refuses it${why})`,
    {
      httpStatus: err.status,
    },
  );
}

/** An id may be a launch id or a campaign id; launches are looked up first. */
async function status(
  cmd: Extract<Command, { kind: 'status' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
) {
  let launchView: LaunchView | undefined;
  try {
    launchView = (await api.get<LaunchView>(`/v1/launches/${enc(cmd.id)}`)).body;
  } catch (err) {
    if (!notThisKind(err)) throw err;
  }
  const campaignId = launchView ? launchView.campaignId : cmd.id;
  let campaign: CampaignViewLoose | undefined;
  if (campaignId) {
    try {
      campaign = (await api.get<CampaignViewLoose>(`/v1/campaigns/${enc(campaignId)}`)).body;
    } catch (err) {
      if (!notThisKind(err)) throw err;
      if (!launchView) {
        const httpStatus = (err as ApiError).status;
        return report(
          io,
          opts.json,
          failure(EXIT.notFound, 'not_found', `no launch or campaign with id ${cmd.id}`, { httpStatus }),
        );
      }
    }
  }
  if (opts.json) io.out(JSON.stringify({ launch: launchView ?? null, campaign: campaign ?? null }));
  else
    io.out(
      [launchView && formatLaunch(launchView, { dialing: !campaign }), campaign && formatCampaign(campaign)]
        .filter(Boolean)
        .join('\n\n'),
    );
  // A launch that ended failed is reported as `cxo launch` reports it (exit 4): a script asking after
  // a launch must not read "failed" as 0.
  return launchView?.status === 'failed' ? EXIT.refused : EXIT.ok;
}

/**
 * Pure: what to tell someone who interrupted a pause, resume or stop request itself: the API may
 * have queued it, and only the idempotency key makes a re-run answer with that command.
 */
export function interruptedActionMessage(
  cmd: Pick<Extract<Command, { kind: 'action' }>, 'action' | 'idempotencyKey'>,
  campaignId: string,
): string {
  const unknown = `interrupted before the API answered: the ${cmd.action} may or may not have been accepted`;
  return cmd.idempotencyKey
    ? `${unknown}; to find out, re-run cxo ${cmd.action} ${campaignId} --idempotency-key ${cmd.idempotencyKey} (it answers with the same command if there is one, and never makes a second)`
    : `${unknown}; check with cxo status ${campaignId}`;
}

/**
 * Pure: whether the API refused the key as used for a command on another campaign than `id`. Sent to
 * a launch id, a re-run's key is compared before the id is looked up (the campaign its first run was
 * resolved to differs), so the 422 may only mean the id is a launch's: it is resolved as a 404 is, and
 * the command sent for the launch's campaign is replayed (or refused, when the key is another's).
 */
export function keyUsedOnAnotherCampaign(err: unknown, id: string): boolean {
  if (!(err instanceof ApiError) || err.status !== 422) return false;
  const body = err.body as { error?: unknown; campaignId?: unknown } | null;
  return (
    body?.error === 'idempotency_key_reused' && typeof body.campaignId === 'string' && body.campaignId !== id
  );
}

/** How often a pause, resume or stop asks again while its key is held by its first request. */
const KEY_IN_USE_TRIES = 4;

/** Pure: the API's answer that a command's Idempotency-Key is still held by the request that claimed it. */
export function keyInUse(err: unknown): err is ApiError {
  return (
    err instanceof ApiError &&
    err.status === 409 &&
    (err.body as { error?: unknown } | null)?.error === 'idempotency_key_in_use'
  );
}

async function action(
  cmd: Extract<Command, { kind: 'action' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
) {
  type Accepted = { commandId?: string; status?: string };
  const headers: Record<string, string> = cmd.idempotencyKey ? { 'idempotency-key': cmd.idempotencyKey } : {};
  const post = (id: string) =>
    api.post<Accepted>(`/v1/campaigns/${enc(id)}/actions`, { action: cmd.action }, headers);
  // A key still held by its first request (another run of this command, started a moment before) is
  // answered once that request has queued its command: asked again after the API's Retry-After.
  const send = async (id: string): Promise<ApiResponse<Accepted>> => {
    for (let tries = 1; ; tries++) {
      try {
        return await post(id);
      } catch (err) {
        if (tries >= KEY_IN_USE_TRIES || !keyInUse(err)) throw err;
        const waitMs = retryDelayMs(err, 1, 1000, Date.now());
        io.err(
          `the --idempotency-key is still held by its first request; asking again in ${delayText(waitMs)}`,
        );
        // Ctrl-C meanwhile: whether the first request queued the command is not known yet.
        if (!(await sleep(waitMs, io.signal))) throw new InterruptedError('POST', err.path);
      }
    }
  };
  let campaignId = cmd.id;
  let res: ApiResponse<Accepted>;
  try {
    try {
      res = await send(campaignId);
    } catch (err) {
      const keyElsewhere = keyUsedOnAnotherCampaign(err, cmd.id);
      if (!notThisKind(err) && !keyElsewhere) throw err;
      const resolved = await campaignOfLaunchId(api, io, cmd.id);
      if (!resolved && keyElsewhere) throw err;
      if (!resolved) return report(io, opts.json, unknownIdFailure(cmd.id, err));
      if ('failure' in resolved) return report(io, opts.json, resolved.failure);
      // The 404 (or the 422) queued nothing, so sending the command again, for the launch's campaign, is safe.
      campaignId = resolved.campaignId;
      res = await send(campaignId);
    }
  } catch (err) {
    if (err instanceof InterruptedError && err.method === 'POST') {
      const message = interruptedActionMessage(cmd, campaignId);
      return report(io, opts.json, failure(EXIT.interrupted, 'interrupted', message));
    }
    return report(io, opts.json, describeError(err, { campaignId }));
  }
  const { commandId } = res.body;
  const replayed = res.headers.get('idempotent-replayed') === 'true';
  const earlier = replayed ? ', accepted earlier under this --idempotency-key' : '';
  // A replay whose command has already failed or met a conflict: its outcome is known, and is no
  // command accepted; reported as a wait reports it (exit 4), with --no-wait too, as a replayed
  // launch that failed is.
  const endedBadly = replayed && (res.body.status === 'failed' || res.body.status === 'conflict');
  if ((!cmd.wait && !endedBadly) || !commandId) {
    io.out(
      opts.json
        ? JSON.stringify(replayed ? { ...res.body, replayed } : res.body)
        : `${cmd.action} accepted for campaign ${campaignId}${commandId ? ` (command ${commandId}${earlier})` : ''}`,
    );
    return EXIT.ok;
  }
  return awaitCommand(cmd, api, io, opts, campaignId, commandId, earlier);
}

/**
 * A command as GET /v1/commands/:commandId answers it (the response schema's type), read loosely at
 * every depth: a server of another release may lack any field, and until the first answer cxo knows
 * only the id.
 */
type CommandView = DeepPartial<CommandRecordBody> & Pick<CommandRecordBody, 'commandId'>;

const FINAL_COMMAND_STATUSES = ['succeeded', 'failed', 'conflict'];

/**
 * Pure: how an action's command ended. A 202 only says the command was queued: the worker may still
 * find CXone refusing it or someone else's change in its way, and an operator stopping a campaign
 * must not read "done" into that.
 */
export function commandOutcome(
  action: string,
  campaignId: string,
  command: CommandView,
): { code: ExitCode; line: string } | { failure: Failure } {
  const of = `${action} of campaign ${campaignId}`;
  if (command.status === 'succeeded') {
    const version = command.result?.version !== undefined ? `version ${command.result.version}, ` : '';
    const state = command.result?.status ? `: it is ${command.result.status}` : '';
    return {
      code: EXIT.ok,
      line: printableLine(`${of} done${state} (${version}command ${command.commandId})`),
    };
  }
  const details = { commandId: command.commandId, campaignId, command };
  if (command.status === 'conflict') {
    const reason = printableLine(command.conflict?.reason ?? 'someone else changed the campaign');
    // A conflict on part of a command may leave the rest in place (a pause whose patch clashed is
    // still paused): say where the campaign stands, or an operator reads "not paused" into exit 4.
    const status = command.conflict?.status;
    const version = command.conflict?.version !== undefined ? ` (version ${command.conflict.version})` : '';
    const now = status ? printableLine(`; the campaign is ${status}${version}`) : '';
    return {
      failure: failure(
        EXIT.refused,
        'command_conflict',
        `${of} stopped on a conflict: ${reason}${now}`,
        details,
      ),
    };
  }
  const why = errorText(command.error) || 'the worker gave up (no reason recorded)';
  return { failure: failure(EXIT.refused, 'command_failed', `${of} failed: ${why}`, details) };
}

/**
 * Follows an accepted action's command until it is applied, failed or refused, or --timeout passes.
 * A poll that fails for a while (a 5xx, a 408/429, no answer) is tried again within the timeout, as
 * a launch wait and watch do (retry.ts); any other 4xx ends the wait at once.
 */
async function awaitCommand(
  cmd: Extract<Command, { kind: 'action' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
  campaignId: string,
  commandId: string,
  /** Said of a command an Idempotency-Key's replay named: accepted earlier, not now. */
  earlier = '',
): Promise<ExitCode> {
  const deadline = Date.now() + cmd.timeoutSec * 1000;
  const follow = `cxo status ${campaignId} (last cmd)`;
  let command: CommandView = { commandId, status: 'queued' };
  const stopWaiting = () => {
    io.err(`stopped waiting; the ${cmd.action} goes on (command ${commandId}): ${follow}`);
    // Exit 0 with --json: the command as last seen, as a finished wait prints it.
    if (opts.json) io.out(JSON.stringify(command));
    return EXIT.ok;
  };
  const pollMs = io.pollMs ?? 500;
  /** While polls fail: ridden out until the deadline, as a launch wait and watch do. */
  let failing: Failing | undefined;
  if (!opts.json)
    io.err(
      `${cmd.action} accepted for campaign ${campaignId} (command ${commandId}${earlier}); waiting for it`,
    );
  while (!FINAL_COMMAND_STATUSES.includes(command.status ?? '')) {
    if (Date.now() > deadline) {
      const polls = failingDetail(failing);
      return report(
        io,
        opts.json,
        failure(
          EXIT.server,
          'command_timeout',
          `command ${commandId} still ${command.status ?? 'queued'} after ${cmd.timeoutSec} s${polls.text}; it may yet be applied: ${follow}`,
          { commandId, campaignId, command, ...polls.json },
        ),
      );
    }
    if (!(await sleep(failing?.delayMs ?? pollMs, io.signal))) return stopWaiting();
    try {
      command = (await api.get<CommandView>(`/v1/commands/${enc(commandId)}`, pollTimeoutMs(deadline))).body;
      failing = undefined;
    } catch (err) {
      if (err instanceof InterruptedError) return stopWaiting();
      if (!isTransient(err)) {
        // The command was accepted: its id, and where its outcome shows, must not be lost.
        return report(
          io,
          opts.json,
          withHint(describeError(err), `command ${commandId} was accepted: ${follow}`),
        );
      }
      failing = failedAgain(failing, err, pollMs, deadline);
      const note = `command ${commandId}: ${retryingNote(failing)}`;
      io.err(opts.json ? `${new Date().toISOString()}  ${note}` : note);
    }
  }
  const outcome = commandOutcome(cmd.action, campaignId, command);
  if ('failure' in outcome) return report(io, opts.json, outcome.failure);
  io.out(opts.json ? JSON.stringify(command) : outcome.line);
  return outcome.code;
}

export type LaunchKind = { kind: 'launch'; campaignId?: string; status?: string; error?: string };
export type IdKind = { kind: 'campaign' } | LaunchKind | { kind: 'unknown' };

/** Whether `id` is a launch's, and what it knows of its campaign. */
async function launchKind(api: ApiClient, id: string): Promise<LaunchKind | { kind: 'unknown' }> {
  try {
    const launch = (await api.get<LaunchView>(`/v1/launches/${enc(id)}`)).body;
    const error = errorText(launch.error);
    return {
      kind: 'launch',
      ...(launch.campaignId ? { campaignId: launch.campaignId } : {}),
      ...(launch.status ? { status: launch.status } : {}),
      ...(error ? { error } : {}),
    };
  } catch (err) {
    if (!notThisKind(err)) throw err;
  }
  return { kind: 'unknown' };
}

async function kindOfId(api: ApiClient, id: string): Promise<IdKind> {
  try {
    await api.get(`/v1/campaigns/${enc(id)}`);
    return { kind: 'campaign' };
  } catch (err) {
    if (!notThisKind(err)) throw err;
  }
  return launchKind(api, id);
}

/**
 * Pure: what a command on a campaign does with a launch id (the first id `cxo launch` prints): it
 * acts on the launch's campaign, or says why there is none to act on.
 */
export function launchIdReport(
  id: string,
  kind: LaunchKind,
): { campaignId: string; note: string } | { failure: Failure } {
  if (kind.campaignId)
    return { campaignId: kind.campaignId, note: `${id} is a launch; its campaign is ${kind.campaignId}` };
  const message =
    kind.status === 'failed'
      ? `${id} is a launch that failed before CXone created a campaign${kind.error ? `: ${printableLine(kind.error)}` : ''}`
      : `${id} is a launch whose campaign does not exist yet (launch ${kind.status ?? 'status unknown'}); follow it with cxo status ${id}`;
  return {
    failure: failure(EXIT.notFound, 'no_campaign', message, {
      launchId: id,
      ...(kind.status ? { launchStatus: kind.status } : {}),
    }),
  };
}

/**
 * After the campaign routes answered 404 for `id`: the campaign of the launch `id` names (said on
 * stderr), a failure when that launch has none, or undefined when `id` is no launch's either.
 */
async function campaignOfLaunchId(
  api: ApiClient,
  io: CliIo,
  id: string,
): Promise<{ campaignId: string } | { failure: Failure } | undefined> {
  const kind = await launchKind(api, id);
  if (kind.kind !== 'launch') return undefined;
  const resolved = launchIdReport(id, kind);
  if ('note' in resolved) io.err(resolved.note);
  return resolved;
}

/**
 * Pure: why a trail came back empty. The API answers an empty page for any id (trails outlive their
 * campaigns), so only a lookup tells a quiet campaign from a typo or a launch id.
 */
export function emptyTrailReport(id: string, kind: IdKind): { code: ExitCode; err?: string; out?: string } {
  switch (kind.kind) {
    case 'campaign':
      return { code: EXIT.ok, out: `no audit records for ${id}` };
    case 'unknown':
      return { code: EXIT.notFound, err: `no campaign with id ${id}` };
    case 'launch':
      return {
        code: EXIT.notFound,
        err: kind.campaignId
          ? `${id} is a launch; its campaign's trail: cxo audit ${kind.campaignId} (the launch request's: cxo audit launch:${id})`
          : `${id} is a launch without a campaign (yet); its records: cxo audit launch:${id}`,
      };
  }
}

async function audit(
  cmd: Extract<Command, { kind: 'audit' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
) {
  let cursor: string | null = null;
  let printed = 0;
  let firstPage = true;
  const max = cmd.limit ?? Number.POSITIVE_INFINITY;
  /** Records the API could not return: the output is not the whole trail, and must not exit 0. */
  const gaps: AuditGapView[] = [];
  do {
    const pageSize = Math.min(500, max - printed);
    const query = new URLSearchParams({ limit: String(pageSize), ...(cursor ? { cursor } : {}) });
    let page: AuditPageView;
    try {
      page = (await api.get<AuditPageView>(`/v1/campaigns/${enc(cmd.id)}/audit?${query.toString()}`)).body;
    } catch (err) {
      // An id no trail can have (400) is as empty as any other unknown id: the lookup below says so.
      if (!(firstPage && err instanceof ApiError && err.status === 400)) throw err;
      page = { records: [], nextCursor: null };
    }
    gaps.push(...(page.gaps ?? []));
    if (firstPage && page.records.length === 0 && gaps.length === 0) {
      const kind = await kindOfId(api, cmd.id);
      const empty = emptyTrailReport(cmd.id, kind);
      if (empty.err) {
        const details = kind.kind === 'launch' ? { launchId: cmd.id, campaignId: kind.campaignId } : {};
        const error = kind.kind === 'launch' ? 'not_a_campaign' : 'not_found';
        return report(io, opts.json, failure(empty.code, error, empty.err, details));
      }
      // Exports and --json stay empty for a known campaign: scripts read "no records" from no lines.
      if (empty.out && !cmd.export && !opts.json) io.out(empty.out);
      return empty.code;
    }
    firstPage = false;
    for (const record of page.records.slice(0, max - printed)) {
      io.out(cmd.export || opts.json ? JSON.stringify(record) : formatAuditRecord(record));
      printed++;
    }
    cursor = page.nextCursor;
    // After Ctrl-C the next page's request fails at once with InterruptedError: a partial trail exits 130.
  } while (cursor && printed < max);
  if (gaps.length > 0) return report(io, opts.json, auditGapsFailure(cmd.id, gaps, printed));
  return EXIT.ok;
}

/**
 * Pure: the trail came with records the API could not return (missing from the trail, or damaged).
 * What was printed is not the whole trail: exit 5 (the server's trail is at fault), naming the first.
 */
export function auditGapsFailure(id: string, gaps: readonly AuditGapView[], printed: number): Failure {
  const [first] = gaps;
  return failure(
    EXIT.server,
    'audit_gaps',
    `audit trail of ${id} incomplete: ${gaps.length} record(s) could not be read (first: ${first ? describeAuditGap(first) : '?'}); ` +
      `${printed} record(s) printed; run npm run audit -- verify ${id} on the fleet`,
    { gaps },
  );
}

/**
 * Exit codes, for scripts (docs/operations.md): a first request that cannot reach the API exits 5 at
 * once, as `status` does, and so does a wrong API_URL or a 4xx other than 408/429 at any time. Once
 * the API has answered (a 5xx included), network failures, 5xx, 408 and 429 are retried (retry.ts:
 * backing off from the interval, never sooner than a Retry-After), each said on stderr under --json. Ctrl-C
 * exits 0 when the latest poll showed the campaign, 5 when every poll since some time failed (what
 * is on screen is out of date), and 130 before the API answered at all; so 0 always means that the
 * watch saw the campaign until it was stopped.
 */
async function watch(
  cmd: Extract<Command, { kind: 'watch' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
) {
  let id = cmd.id;
  let launchLookedUp = false;
  /** The API has answered (an error included): from now on a failure may be transient. */
  let answered = false;
  /** While polls fail: the latest failure, since when they fail, and when the next try comes. */
  let failing: Failing | undefined;
  const stopped = (): ExitCode => {
    if (!failing) return EXIT.ok;
    const f = describeError(failing.err);
    const [first, ...rest] = f.lines;
    return report(io, opts.json, {
      ...f,
      lines: [`stopped watching; every poll since ${failing.since} failed: ${first}`, ...rest],
      json: { ...f.json, failingSince: failing.since },
    });
  };
  for (;;) {
    let view: CampaignViewLoose | undefined;
    let problem = '';
    try {
      view = (await api.get<CampaignViewLoose>(`/v1/campaigns/${enc(id)}`)).body;
      answered = true;
      failing = undefined;
    } catch (err) {
      // Ctrl-C during a poll ends the watch as it does between polls; before any answer, it is a
      // one-shot request interrupted (130, via runCli).
      if (err instanceof InterruptedError) {
        if (!answered) throw err;
        return stopped();
      }
      // Never reached: a mistyped API_URL or a fleet that is down will not come right by waiting.
      // runCli reports it as it does for status and launch (exit 5).
      if (!answered && err instanceof NetworkError) throw err;
      if (err instanceof ApiError) answered = true;
      if (notThisKind(err) && !launchLookedUp) {
        launchLookedUp = true;
        let resolved: Awaited<ReturnType<typeof campaignOfLaunchId>>;
        try {
          resolved = await campaignOfLaunchId(api, io, id);
        } catch (lookupErr) {
          if (lookupErr instanceof InterruptedError) return stopped();
          return report(io, opts.json, describeError(lookupErr));
        }
        if (!resolved) return report(io, opts.json, unknownIdFailure(id, err));
        if ('failure' in resolved) return report(io, opts.json, resolved.failure);
        id = resolved.campaignId;
        continue;
      }
      // A missing campaign or a wrong API_URL will not come right by waiting; a flaky network might,
      // and so will a gateway's rate limit (429) or request timeout (408) in front of the API
      // (retry.ts: the policy the waits of launch and pause|resume|stop share).
      if (!isTransient(err) || cmd.once) return report(io, opts.json, describeError(err));
      // Backing off from the interval, and never sooner than a Retry-After asks: a watch at
      // --interval 0.5 must not hammer a rate-limited gateway or an API whose Redis is down.
      failing = failedAgain(failing, err, cmd.intervalSec * 1000);
      problem = retryingNote(failing);
    }
    if (opts.json) {
      // stdout stays one view per line; people and logs still learn why none comes.
      if (view) io.out(JSON.stringify(view));
      else io.err(`${new Date().toISOString()}  ${problem}`);
    } else {
      // A --once view is not refreshed: "every 2 s, Ctrl-C to stop" above it promised a live view.
      const refresh = cmd.once ? '' : `  (every ${cmd.intervalSec} s, Ctrl-C to stop)`;
      const header = `cxo watch ${id}  ${new Date().toISOString()}${refresh}`;
      const body = view ? formatCampaign(view) : problem;
      io.out(`${io.isTty && !cmd.once ? CLEAR : ''}${header}\n${body}\n`);
    }
    if (cmd.once) return EXIT.ok;
    if (view && isFinalCampaign(view.status)) {
      if (!opts.json) io.out(`campaign ${id} is ${view.status}`);
      return EXIT.ok;
    }
    // Gone from CXone: nothing will change any more to watch.
    if (view?.missingOnCxone) {
      if (!opts.json) io.out(`campaign ${id} no longer exists on CXone`);
      return EXIT.ok;
    }
    if (!(await sleep(failing?.delayMs ?? cmd.intervalSec * 1000, io.signal))) return stopped();
  }
}

/** The launch record behind a replayed launch, whose answer names no campaign even when there is one. */
async function launchRecord(api: ApiClient, answer: LaunchView): Promise<LaunchView> {
  try {
    return (await api.get<LaunchView>(`/v1/launches/${enc(answer.launchId)}`)).body;
  } catch {
    // The launch stands accepted whatever this read does: the record only adds detail.
    return answer;
  }
}

/** Runs one CLI invocation; never throws, always resolves to an exit code. */
export async function runCli(
  argv: string[],
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<ExitCode> {
  const parsed = parseCliArgs(argv, env);
  if (!parsed.ok) {
    // The error line, then only this command's usage (or the list of commands) and where the full
    // help is: the ~30 lines of USAGE scrolled the one line that says what is wrong off the screen.
    const usage = failure(EXIT.usage, 'usage', parsed.error);
    return report(io, jsonRequested(argv), {
      ...usage,
      lines: [`cxo: ${parsed.error}`, usageHint(parsed.command)],
    });
  }
  const { command, options } = parsed;
  if (command.kind === 'help') {
    io.out(USAGE);
    return EXIT.ok;
  }
  const api = new ApiClient({
    apiUrl: options.apiUrl,
    token: options.token,
    tokenSource: options.tokenSource,
    ...(io.fetchImpl ? { fetchImpl: io.fetchImpl } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
  });
  try {
    switch (command.kind) {
      case 'launch':
        return await launch(command, api, io, options, resolveFileArg(command.file, env, io.cwd));
      case 'validate':
        return await validate(command, api, io, options, resolveFileArg(command.file, env, io.cwd));
      case 'status':
        return await status(command, api, io, options);
      case 'action':
        return await action(command, api, io, options);
      case 'audit':
        return await audit(command, api, io, options);
      case 'watch':
        return await watch(command, api, io, options);
    }
  } catch (err) {
    return report(io, options.json, describeError(err));
  }
}
