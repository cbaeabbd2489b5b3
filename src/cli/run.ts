import { readFile } from 'node:fs/promises';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { campaignConfigSchema } from '../shared/campaign-schema.js';
import { toValidationIssues } from '../shared/campaign-config.js';
import { ApiClient, ApiError, exitCodeForError, NetworkError } from './api-client.js';
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
  fetchImpl?: typeof fetch;
  /** Aborted on Ctrl-C: waits and `watch` end cleanly with exit 0. */
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

async function readConfigFile(
  io: CliIo,
  file: string,
): Promise<{ ok: true; value: unknown } | { ok: false; code: ExitCode }> {
  let text: string;
  try {
    text = await io.readFile(file);
  } catch (err) {
    io.err(`cannot read ${file}: ${(err as Error).message}`);
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

async function launch(
  cmd: Extract<Command, { kind: 'launch' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
) {
  const file = await readConfigFile(io, cmd.file);
  if (!file.ok) return file.code;
  const headers: Record<string, string> = cmd.idempotencyKey ? { 'idempotency-key': cmd.idempotencyKey } : {};
  const accepted = await api.post<LaunchView>('/v1/campaigns', file.value, headers);
  let launchView = accepted.body;
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
    if (io.isTty) io.write(`\r\x1b[2K${progressLine(launchView, Date.now() - started, frame++)}`);
    else if (launchView.status !== lastShown) io.out(progressLine(launchView, Date.now() - started, 0));
    lastShown = launchView.status;
  };
  show();
  while (!isFinalLaunch(launchView.status)) {
    if (Date.now() > deadline) {
      if (io.isTty && !opts.json) io.out('');
      io.err(
        `launch ${launchView.launchId} still ${launchView.status} after ${cmd.timeoutSec} s; follow it with: cxo status ${launchView.launchId}`,
      );
      return EXIT.server;
    }
    if (!(await sleep(io.pollMs ?? 500, io.signal))) {
      if (io.isTty && !opts.json) io.out('');
      io.err(`stopped waiting; the launch continues: cxo status ${launchView.launchId}`);
      return EXIT.ok;
    }
    launchView = (await api.get<LaunchView>(`/v1/launches/${enc(launchView.launchId)}`)).body;
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
) {
  const file = await readConfigFile(io, cmd.file);
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

/** An id may be a launch id or a campaign id; launches are looked up first. */
async function status(
  cmd: Extract<Command, { kind: 'status' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
) {
  // 404, or 400 for an id that cannot be one of that kind (launch ids are UUIDs): try the other kind.
  const notThisKind = (err: unknown) => err instanceof ApiError && (err.status === 404 || err.status === 400);
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
  const res = await api.post<{ commandId?: string; status?: string }>(
    `/v1/campaigns/${enc(cmd.id)}/actions`,
    body,
  );
  io.out(
    opts.json
      ? JSON.stringify(res.body)
      : `${cmd.action} accepted for campaign ${cmd.id}${res.body.commandId ? ` (command ${res.body.commandId})` : ''}`,
  );
  return EXIT.ok;
}

async function audit(
  cmd: Extract<Command, { kind: 'audit' }>,
  api: ApiClient,
  io: CliIo,
  opts: GlobalOptions,
) {
  let cursor: string | null = null;
  let printed = 0;
  const max = cmd.limit ?? Number.POSITIVE_INFINITY;
  do {
    const pageSize = Math.min(500, max - printed);
    const query = new URLSearchParams({ limit: String(pageSize), ...(cursor ? { cursor } : {}) });
    const page: { records: AuditRecordView[]; nextCursor: string | null } = (
      await api.get<{ records: AuditRecordView[]; nextCursor: string | null }>(
        `/v1/campaigns/${enc(cmd.id)}/audit?${query.toString()}`,
      )
    ).body;
    for (const record of page.records.slice(0, max - printed)) {
      io.out(cmd.export || opts.json ? JSON.stringify(record) : formatAuditRecord(record));
      printed++;
    }
    cursor = page.nextCursor;
  } while (cursor && printed < max && !io.signal?.aborted);
  if (printed === 0 && !cmd.export && !opts.json) io.out(`no audit records for ${cmd.id}`);
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
      // A missing campaign will not appear by waiting; a flaky network might recover.
      if (err instanceof ApiError && err.status < 500) return reportApiError(io, err);
      if (cmd.once) return reportApiError(io, err);
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
  });
  try {
    switch (command.kind) {
      case 'launch':
        return await launch(command, api, io, options);
      case 'validate':
        return await validate(command, api, io, options);
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
