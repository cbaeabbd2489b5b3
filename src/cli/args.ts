import { quotedUpToQuery, redactUrl, redactUrlCredentials } from '../shared/redact-url.js';
import { idempotencyKeyProblem } from '../shared/idempotency-key.js';
import { CAMPAIGN_ACTIONS, type CampaignAction } from '../shared/lifecycle/state-machine.js';

/**
 * Exit codes of `cxo`, stable for scripts:
 *   0 ok · 1 usage · 2 validation failed · 3 not found · 4 conflict/refused · 5 server or network error
 *   · 130 interrupted (Ctrl-C) before the API answered (the shell's code for SIGINT)
 */
export const EXIT = {
  ok: 0,
  usage: 1,
  validation: 2,
  notFound: 3,
  refused: 4,
  server: 5,
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Where the token cxo sends came from: a 401 says so, as the API cannot tell a stale token from a mistyped one. */
export type TokenSource = '--token' | 'API_TOKEN' | 'default';

export interface GlobalOptions {
  apiUrl: string;
  token: string;
  tokenSource: TokenSource;
  json: boolean;
}

export type Command =
  | { kind: 'help' }
  | { kind: 'launch'; file: string; wait: boolean; idempotencyKey?: string; timeoutSec: number }
  | { kind: 'validate'; file: string; offline: boolean }
  | { kind: 'status'; id: string }
  | {
      kind: 'action';
      action: CampaignAction;
      id: string;
      wait: boolean;
      timeoutSec: number;
      idempotencyKey?: string;
    }
  | { kind: 'audit'; id: string; export: boolean; limit?: number }
  | { kind: 'watch'; id: string; intervalSec: number; once: boolean };

export type ParseResult =
  | { ok: true; command: Command; options: GlobalOptions }
  /** `command`: the command the error is about, when argv names a known one (its usage is printed). */
  | { ok: false; error: string; command?: CommandName };

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';
export const DEFAULT_API_TOKEN = 'dev-token';

export const USAGE = `usage: cxo <command> [options]

commands:
  launch FILE        launch the campaign config in FILE and wait until it succeeds or fails
                     --no-wait  return once accepted   --idempotency-key KEY   --timeout SECONDS (120, up to 86400)
  validate FILE      check a campaign config (--offline: check locally, without the API)
  status ID          show a launch (launch id) or a campaign (campaign id); a launch that failed exits 4
  pause ID           pause an active campaign
  resume ID          resume a paused campaign (refused outside the calling window)
  stop ID            end the campaign for good
                     (each waits until its command is applied, failed or refused;
                     --no-wait  return once accepted   --idempotency-key KEY   --timeout SECONDS (60, up to 86400))
  audit ID           print the campaign's audit trail (--export: every record as JSON lines; --limit N)
  watch ID           live view of stats and pacing, refreshed every --interval SECONDS (2; at most 3600); --once
                     (pause, resume, stop and watch take a launch id for the launch's campaign)

global options:
  --api-url URL      producer API's root (env API_URL, default ${DEFAULT_API_URL});
                     a trailing /v1, as npm start and the demo print it, is accepted
  --token TOKEN      API token (env API_TOKEN, default ${DEFAULT_API_TOKEN})
  --json             machine-readable output; a failure is one JSON object {error, message, ...}
  -h, --help         this text

FILE is resolved against the directory npm was run from (INIT_CWD) under npm run cxo, else the
current directory.

exit codes: 0 ok, 1 usage, 2 validation failed, 3 not found, 4 conflict or refused,
            5 server or network error (or an API_URL that is not the API), 130 interrupted`;

/** Options that take a value; everything else starting with "--" is a flag. */
const VALUED = new Set(['--api-url', '--token', '--idempotency-key', '--timeout', '--limit', '--interval']);
const FLAGS = new Set(['--json', '--no-wait', '--offline', '--export', '--once', '--help', '-h']);

const ALLOWED = {
  launch: ['--no-wait', '--idempotency-key', '--timeout'],
  validate: ['--offline'],
  status: [],
  pause: ['--no-wait', '--idempotency-key', '--timeout'],
  resume: ['--no-wait', '--idempotency-key', '--timeout'],
  stop: ['--no-wait', '--idempotency-key', '--timeout'],
  audit: ['--export', '--limit'],
  watch: ['--interval', '--once'],
} satisfies Record<string, readonly string[]>;
const GLOBAL = ['--api-url', '--token', '--json', '--help', '-h'];

export type CommandName = keyof typeof ALLOWED;
const COMMANDS = Object.keys(ALLOWED) as CommandName[];
const isCommand = (name: string | undefined): name is CommandName =>
  name !== undefined && Object.hasOwn(ALLOWED, name);

/** What each command does and what its options mean, for the usage a usage error prints. */
const COMMAND_HELP: Record<CommandName, string> = {
  launch:
    'launch the campaign config in FILE and wait until it succeeds or fails\n' +
    '  --no-wait: return once accepted; --timeout SECONDS: 120, up to 86400',
  validate: 'check a campaign config (--offline: check locally, without the API)',
  status: 'show a launch (launch id) or a campaign (campaign id)',
  pause: 'pause an active campaign',
  resume: 'resume a paused campaign (refused outside the calling window)',
  stop: 'end the campaign for good',
  audit: "print the campaign's audit trail (--export: every record as JSON lines; --limit N: the first N)",
  watch:
    'live view of stats and pacing, refreshed every --interval SECONDS (2; at most 3600); --once: one view',
};
for (const action of ['pause', 'resume', 'stop'] as const) {
  COMMAND_HELP[action] +=
    '\n  waits until its command is applied, failed or refused (--no-wait: return once accepted); ID may' +
    '\n  be a launch id; --timeout SECONDS: 60, up to 86400; --idempotency-key KEY: a re-run is the same command';
}
COMMAND_HELP.watch += '\n  ID may be a launch id, for its campaign';

const METAVAR: Record<string, string> = {
  '--idempotency-key': 'KEY',
  '--timeout': 'SECONDS',
  '--limit': 'N',
  '--interval': 'SECONDS',
};

/**
 * Pure: what a usage error prints after its own line, short enough that the error stays on screen:
 * the usage of the command it is about, else the list of commands; then where the full help is.
 */
export function usageHint(command?: CommandName): string {
  const more = "run 'cxo --help' for the global options (--api-url, --token, --json) and every command";
  if (!command) return `commands: ${COMMANDS.join(', ')}\n${more}`;
  const what = command === 'launch' || command === 'validate' ? 'FILE' : 'ID';
  const options = (ALLOWED[command] as readonly string[]).map(
    (opt) => `[${METAVAR[opt] ? `${opt} ${METAVAR[opt]}` : opt}]`,
  );
  return [
    `usage: cxo ${command} ${what}${options.map((o) => ` ${o}`).join('')}`,
    `  ${COMMAND_HELP[command]}`,
    more,
  ].join('\n');
}

/**
 * Plain decimal notation only, as the service reads its environment and the API its `?limit=`:
 * Number() alone would take `0x10` as 16, `1e3` as 1000 and ` 5` as 5, so a typo or a pasted value
 * would quietly set another wait or page size than the one meant.
 */
const PLAIN_DECIMAL = /^(?:\d+(?:\.\d+)?|\.\d+)$/;

function positiveNumber(raw: string | undefined, name: string): number | string {
  const n = Number(raw);
  if (raw === undefined || !Number.isFinite(n) || n <= 0)
    return `${name} must be a positive number (got "${raw}")`;
  return PLAIN_DECIMAL.test(raw)
    ? n
    : `${name} must be written in plain decimal digits, such as ${String(n)} (got "${raw}")`;
}

/**
 * A number of seconds within [min, max]: a timer of more than 2^31 - 1 ms fires after 1 ms (a watch
 * asked to wait a month would poll the API without pause), and below 10 ms the loop would only
 * measure the API's latency.
 */
function secondsWithin(raw: string | undefined, name: string, min: number, max: number): number | string {
  const n = positiveNumber(raw, name);
  if (typeof n === 'string') return n;
  return n >= min && n <= max ? n : `${name} must be between ${min} and ${max} seconds (got "${raw}")`;
}

/**
 * Pure: whether argv asks for --json, also when it cannot be parsed: a script that asked for JSON
 * gets its usage error as JSON too.
 */
export function jsonRequested(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    if (argv[i] === '--json') return true;
    // `--token --json` makes "--json" the token, as parseCliArgs reads it.
    if (VALUED.has(argv[i] as string)) i++;
  }
  return false;
}

/**
 * Pure: the API's root from what an operator typed. npm start and the demo print the API as
 * http://host:port/v1, so a trailing /v1 (and trailing slashes) is dropped: the CLI adds /v1 itself.
 */
export function normaliseApiUrl(raw: string): string {
  const trimmed = raw.replace(/\/+$/, '');
  // Only a /v1 path segment after the host: a host named v1 (http://v1) is left alone.
  const root = /^[a-z][a-z0-9+.-]*:\/\/[^/]+(\/.*)?\/v1$/i.test(trimmed) ? trimmed.slice(0, -3) : trimmed;
  return root.replace(/\/+$/, '');
}

/**
 * Pure: why a token cannot be the API's (the service's own rule: printable ASCII without spaces, as
 * it is sent in an HTTP header), naming the first character that breaks it but not the secret itself.
 */
export function headerTokenProblem(token: string): string | undefined {
  const chars = [...token];
  const at = chars.findIndex((c) => !/^[\x21-\x7e]$/.test(c));
  if (at < 0) return undefined;
  const code = chars[at]!.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return `must be printable ASCII without spaces (it is sent in an HTTP header); character ${at + 1} is U+${code}`;
}

/** Pure: turns argv (without node and script) and the environment into a command or a usage error. */
export function parseCliArgs(argv: string[], env: Record<string, string | undefined> = {}): ParseResult {
  const positionals: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  // The first error in argv; the rest is still read, to find the command whose usage to print.
  let argError: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUED.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') argError ??= `${name} needs a value`;
      else values.set(name, value);
    } else if (FLAGS.has(name) && eq < 0) {
      flags.add(name);
    } else if (arg.startsWith('-') && arg !== '-') {
      argError ??= `unknown option ${arg}`;
    } else {
      positionals.push(arg);
    }
  }

  const known = isCommand(positionals[0]) ? { command: positionals[0] } : {};
  const usageError = (error: string): ParseResult => ({ ok: false, error, ...known });
  if (argError) return usageError(argError);
  // The API's own rule, checked before anything is sent: a key it would refuse is a mistyped option,
  // not an invalid request (the API's 400 would read as exit 2).
  const idempotencyKeyOption = (given: Map<string, string>): string | undefined | ParseResult => {
    const key = given.get('--idempotency-key');
    const keyProblem = key === undefined ? undefined : idempotencyKeyProblem(key);
    return keyProblem
      ? usageError(`--idempotency-key ${JSON.stringify(key)} is refused: ${keyProblem}`)
      : key;
  };

  // Set to nothing counts as unset, as the service reads its own environment (compose passes
  // `${API_TOKEN:-}`): an empty token would be refused, though the fleet took the default.
  const fromEnv = (name: string) => (env[name] === '' ? undefined : env[name]);
  const tokenSource = values.has('--token') ? '--token' : fromEnv('API_TOKEN') ? 'API_TOKEN' : undefined;
  const options: GlobalOptions = {
    apiUrl: normaliseApiUrl(values.get('--api-url') ?? fromEnv('API_URL') ?? DEFAULT_API_URL),
    token: values.get('--token') ?? fromEnv('API_TOKEN') ?? DEFAULT_API_TOKEN,
    tokenSource: tokenSource ?? 'default',
    json: flags.has('--json'),
  };
  if (flags.has('--help') || flags.has('-h') || positionals[0] === 'help') {
    return { ok: true, command: { kind: 'help' }, options };
  }
  // `validate --offline` sends nothing: a token it would not use does not stop it.
  const sends = !(positionals[0] === 'validate' && flags.has('--offline'));
  const tokenProblem = tokenSource && sends ? headerTokenProblem(options.token) : undefined;
  if (tokenProblem) {
    // Not sendable in a header: fetch would refuse it before any request, which read as "cannot
    // reach the API; is it running?" (exit 5). The token itself is a secret and is not printed.
    return usageError(`the API token from ${tokenSource} ${tokenProblem}`);
  }
  const [name, ...rest] = positionals;
  if (!name) return usageError('missing command');
  const allowed: readonly string[] | undefined = isCommand(name) ? ALLOWED[name] : undefined;
  if (!allowed) return usageError(`unknown command "${name}"`);
  for (const opt of [...values.keys(), ...flags]) {
    if (!allowed.includes(opt) && !GLOBAL.includes(opt))
      return usageError(`${opt} does not apply to ${name}`);
  }
  // A URL that does not parse (a port past 65535, a stray bracket) is as mistyped as one without a
  // scheme: fetch refuses it before sending, which read as "cannot reach the API; is it running?" (5).
  // A scheme is case-insensitive (RFC 3986 §3.1) and fetch sends to HTTP://host as to http://host.
  if (!/^https?:\/\/[^\s/]+/i.test(options.apiUrl) || !URL.canParse(options.apiUrl)) {
    return usageError(
      `API URL must be http(s)://host[:port] (got "${quotedUpToQuery(options.apiUrl, redactUrlCredentials)}")`,
    );
  }
  // fetch refuses a URL with a user name or password before sending anything, which read as
  // "cannot reach the API; is it running?" (exit 5), with the password printed twice.
  if (/^https?:\/\/[^/?#]*@/i.test(options.apiUrl)) {
    return usageError(
      `API URL must not carry a user name or password (got "${quotedUpToQuery(options.apiUrl, redactUrl)}"); cxo sends the API's token from --token or API_TOKEN`,
    );
  }
  // cxo appends the API's paths to this root: after a query they become part of it (`GET /?x=1/v1/…`)
  // and after a fragment, which fetch does not send, they vanish (a launch POSTed to `/`), which read
  // as "is API_URL the API's root?" (exit 5).
  if (/[?#]/.test(options.apiUrl)) {
    return usageError(
      `API URL must be the API's root, without a query ('?…') or fragment ('#…') (got "${quotedUpToQuery(options.apiUrl, (url) => url)}")`,
    );
  }
  const target = rest[0];
  if (rest.length !== 1 || !target) {
    const what = name === 'launch' || name === 'validate' ? 'FILE' : 'ID';
    return usageError(`${name} takes exactly one ${what}`);
  }

  switch (name) {
    case 'launch': {
      const timeout = secondsWithin(values.get('--timeout') ?? '120', '--timeout', 0.01, 86_400);
      if (typeof timeout === 'string') return usageError(timeout);
      const key = idempotencyKeyOption(values);
      if (typeof key === 'object') return key;
      return {
        ok: true,
        options,
        command: {
          kind: 'launch',
          file: target,
          wait: !flags.has('--no-wait'),
          timeoutSec: timeout,
          ...(key ? { idempotencyKey: key } : {}),
        },
      };
    }
    case 'validate':
      return {
        ok: true,
        options,
        command: { kind: 'validate', file: target, offline: flags.has('--offline') },
      };
    case 'status':
      return { ok: true, options, command: { kind: 'status', id: target } };
    case 'audit': {
      const limitRaw = values.get('--limit');
      const limit = limitRaw === undefined ? undefined : positiveNumber(limitRaw, '--limit');
      if (typeof limit === 'string') return usageError(limit);
      if (limit !== undefined && !Number.isInteger(limit))
        return usageError(`--limit must be a whole number (got "${limitRaw}")`);
      return {
        ok: true,
        options,
        command: { kind: 'audit', id: target, export: flags.has('--export'), ...(limit ? { limit } : {}) },
      };
    }
    case 'watch': {
      const interval = secondsWithin(values.get('--interval') ?? '2', '--interval', 0.01, 3_600);
      if (typeof interval === 'string') return usageError(interval);
      return {
        ok: true,
        options,
        command: { kind: 'watch', id: target, intervalSec: interval, once: flags.has('--once') },
      };
    }
    default: {
      const action = CAMPAIGN_ACTIONS.find((a) => a === name);
      if (!action) return usageError(`unknown command "${name}"`);
      const timeout = secondsWithin(values.get('--timeout') ?? '60', '--timeout', 0.01, 86_400);
      if (typeof timeout === 'string') return usageError(timeout);
      const key = idempotencyKeyOption(values);
      if (typeof key === 'object') return key;
      return {
        ok: true,
        options,
        command: {
          kind: 'action',
          action,
          id: target,
          wait: !flags.has('--no-wait'),
          timeoutSec: timeout,
          ...(key ? { idempotencyKey: key } : {}),
        },
      };
    }
  }
}
