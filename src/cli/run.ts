import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { campaignConfigSchema } from '../shared/campaign-schema.js';
import { toValidationIssues } from '../shared/campaign-config.js';
import {
  ApiClient,
  ApiError,
  ApiUrlError,
  exitCodeForError,
  InterruptedError,
  isResourceNotFound,
  NetworkError,
} from './api-client.js';
import { EXIT, USAGE, parseCliArgs, type Command, type ExitCode, type GlobalOptions } from './args.js';
import {
  errorText,
  formatAuditRecord,
  formatCampaign,
  formatIssues,
  formatLaunch,
  isFinalCampaign,
  isFinalLaunch,
  progressLine,
  type AuditRecordView,
  type CampaignViewLoose,
  type IssueView,
  type LaunchView,
} from './format.js';

/** Everything the CLI touches outside itself, injectable so tests drive it without a terminal. */
export interface CliIo {
  /** A line (a newline is added when missing). */
  out(text: string): void;
  err(text: string): void;
  /** Raw text, for redrawing a progress line in place. */
  write(text: string): void;
  /** True when stdout is a terminal: progress and watch redraw in place instead of appending lines. */
  isTty: boolean;
  readFile(path: string): Promise<string>;
  /** Where relative FILE arguments are resolved when npm's INIT_CWD is not set; as given when neither is. */
  cwd?: string;
  fetchImpl?: typeof fetch;
  /**
   * Aborted on Ctrl-C, request in flight included: waits and `watch` end cleanly with exit 0, a
   * one-shot request with exit 130.
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
    readFile: (p) => readFile(p, 'utf8'),
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

/**
 * Pure: the path a FILE argument names. `npm run cxo` runs in the package root, so a path typed in
 * a subdirectory is resolved against INIT_CWD, where npm was invoked.
 */
export function resolveFileArg(
  file: string,
  env: Record<string, string | undefined>,
  cwd: string | undefined,
): string {
  const base = env.INIT_CWD || cwd;
  return base ? resolve(base, file) : file;
}

/** `file` as the user typed it, for messages; `path` where it is read from. */
async function readConfigFile(
  io: CliIo,
  file: string,
  path: string,
): Promise<{ ok: true; value: unknown } | { ok: false; code: ExitCode }> {
  let text: string;
  try {
    text = await io.readFile(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    io.err(`cannot read ${resolve(path)}: ${reason}`);
    return { ok: false, code: EXIT.usage };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    io.err(`${file} is not valid JSON: ${(err as Error).message}`);
    return { ok: false, code: EXIT.validation };
  }
}

function reportApiError(io: CliIo, err: unknown): ExitCode {
  if (err instanceof ApiError) {
    const body = err.body as { issues?: IssueView[] } | null;
    io.err(err.message);
    if (Array.isArray(body?.issues) && body.issues.length > 0) io.err(formatIssues(body.issues));
  } else {
    io.err(err instanceof Error ? err.message : String(err));
  }
  return exitCodeForError(err);
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
  if (!file.ok) return file.code;
  const headers: Record<string, string> = cmd.idempotencyKey ? { 'idempotency-key': cmd.idempotencyKey } : {};
  let launchView: LaunchView;
  try {
    launchView = (await api.post<LaunchView>('/v1/campaigns', file.value, headers)).body;
  } catch (err) {
    if (!(err instanceof InterruptedError)) throw err;
    io.err(interruptedLaunchMessage(cmd, opts.apiUrl));
    return EXIT.interrupted;
  }
  if (!cmd.wait) {
    io.out(opts.json ? JSON.stringify(launchView) : formatLaunch(launchView));
    return EXIT.ok;
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
    if (shown !== lastShown) io.out(progressLine(launchView, Date.now() - started, 0));
    lastShown = shown;
  };
  const stopWaiting = () => {
    if (io.isTty && !opts.json) io.out('');
    io.err(`stopped waiting; the launch continues: cxo status ${launchView.launchId}`);
    return EXIT.ok;
  };
  show();
  while (!isFinalLaunch(launchView.status)) {
    if (Date.now() > deadline) {
      if (io.isTty && !opts.json) io.out('');
      const lastTry = launchView.lastError ? ` (last try: ${launchView.lastError})` : '';
      io.err(
        `launch ${launchView.launchId} still ${launchView.status} after ${cmd.timeoutSec} s${lastTry}; follow it with: cxo status ${launchView.launchId}`,
      );
      return EXIT.server;
    }
    if (!(await sleep(io.pollMs ?? 500, io.signal))) return stopWaiting();
    try {
      launchView = (await api.get<LaunchView>(`/v1/launches/${enc(launchView.launchId)}`)).body;
    } catch (err) {
      // Ctrl-C during a poll means the same as during the pause between polls.
      if (err instanceof InterruptedError) return stopWaiting();
      throw err;
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
  if (!file.ok) return file.code;
  let result: { valid: boolean; issues: IssueView[] };
  if (cmd.offline) {
    const parsed = campaignConfigSchema.safeParse(file.value);
    result = parsed.success
      ? { valid: true, issues: [] }
      : { valid: false, issues: toValidationIssues(parsed.error, file.value) };
  } else {
    try {
      result = (await api.post<{ valid: boolean; issues: IssueView[] }>('/v1/campaigns/validate', file.value))
        .body;
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
      const code = reportApiError(io, err);
      // The schema can be checked without a fleet; say so where it matters.
      io.err(`to check the file without the API: cxo validate --offline ${cmd.file}`);
      return code;
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
        io.err(`no launch or campaign with id ${cmd.id}`);
        return EXIT.notFound;
      }
    }
  }
  if (opts.json) io.out(JSON.stringify({ launch: launchView ?? null, campaign: campaign ?? null }));
  else
    io.out(
      [launchView && formatLaunch(launchView), campaign && formatCampaign(campaign)]
        .filter(Boolean)
        .join('\n\n'),
    );
  return EXIT.ok;
}

async function action(
  cmd: Extract<Command, { kind: 'action' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
) {
  const body = { action: cmd.action };
  let res: { body: { commandId?: string; status?: string } };
  try {
    res = await api.post<{ commandId?: string; status?: string }>(
      `/v1/campaigns/${enc(cmd.id)}/actions`,
      body,
    );
  } catch (err) {
    if (!(err instanceof InterruptedError)) throw err;
    io.err(
      `interrupted before the API answered: the ${cmd.action} may or may not have been accepted; check with cxo status ${cmd.id}`,
    );
    return EXIT.interrupted;
  }
  io.out(
    opts.json
      ? JSON.stringify(res.body)
      : `${cmd.action} accepted for campaign ${cmd.id}${res.body.commandId ? ` (command ${res.body.commandId})` : ''}`,
  );
  return EXIT.ok;
}

export type IdKind = { kind: 'campaign' } | { kind: 'launch'; campaignId?: string } | { kind: 'unknown' };

async function kindOfId(api: ApiClient, id: string): Promise<IdKind> {
  try {
    await api.get(`/v1/campaigns/${enc(id)}`);
    return { kind: 'campaign' };
  } catch (err) {
    if (!notThisKind(err)) throw err;
  }
  try {
    const { campaignId } = (await api.get<LaunchView>(`/v1/launches/${enc(id)}`)).body;
    return { kind: 'launch', ...(campaignId ? { campaignId } : {}) };
  } catch (err) {
    if (!notThisKind(err)) throw err;
  }
  return { kind: 'unknown' };
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
  do {
    const pageSize = Math.min(500, max - printed);
    const query = new URLSearchParams({ limit: String(pageSize), ...(cursor ? { cursor } : {}) });
    const page: { records: AuditRecordView[]; nextCursor: string | null } = (
      await api.get<{ records: AuditRecordView[]; nextCursor: string | null }>(
        `/v1/campaigns/${enc(cmd.id)}/audit?${query.toString()}`,
      )
    ).body;
    if (firstPage && page.records.length === 0) {
      const report = emptyTrailReport(cmd.id, await kindOfId(api, cmd.id));
      if (report.err) io.err(report.err);
      // Exports and --json stay empty for a known campaign: scripts read "no records" from no lines.
      if (report.out && !cmd.export && !opts.json) io.out(report.out);
      return report.code;
    }
    firstPage = false;
    for (const record of page.records.slice(0, max - printed)) {
      io.out(cmd.export || opts.json ? JSON.stringify(record) : formatAuditRecord(record));
      printed++;
    }
    cursor = page.nextCursor;
    // After Ctrl-C the next page's request fails at once with InterruptedError: a partial trail exits 130.
  } while (cursor && printed < max);
  return EXIT.ok;
}

async function watch(
  cmd: Extract<Command, { kind: 'watch' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
) {
  for (;;) {
    let view: CampaignViewLoose | undefined;
    let problem = '';
    try {
      view = (await api.get<CampaignViewLoose>(`/v1/campaigns/${enc(cmd.id)}`)).body;
    } catch (err) {
      // Ctrl-C during a poll ends the watch as it does between polls.
      if (err instanceof InterruptedError) return EXIT.ok;
      // A missing campaign or a wrong API_URL will not come right by waiting; a flaky network might.
      if (err instanceof ApiError && err.status < 500) return reportApiError(io, err);
      if (err instanceof ApiUrlError || cmd.once) return reportApiError(io, err);
      problem = errorText(err);
    }
    if (opts.json) {
      if (view) io.out(JSON.stringify(view));
    } else {
      const header = `cxo watch ${cmd.id}  ${new Date().toISOString()}  (every ${cmd.intervalSec} s, Ctrl-C to stop)`;
      const body = view ? formatCampaign(view) : `API unreachable, retrying: ${problem}`;
      io.out(`${io.isTty && !cmd.once ? CLEAR : ''}${header}\n${body}\n`);
    }
    if (cmd.once) return EXIT.ok;
    if (view && isFinalCampaign(view.status)) {
      if (!opts.json) io.out(`campaign ${cmd.id} is ${view.status}`);
      return EXIT.ok;
    }
    if (!(await sleep(cmd.intervalSec * 1000, io.signal))) return EXIT.ok;
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
    io.err(`cxo: ${parsed.error}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { command, options } = parsed;
  if (command.kind === 'help') {
    io.out(USAGE);
    return EXIT.ok;
  }
  const api = new ApiClient({
    apiUrl: options.apiUrl,
    token: options.token,
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
    return reportApiError(io, err);
  }
}
