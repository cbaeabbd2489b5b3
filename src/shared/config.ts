import { isIP } from 'node:net';
import { z } from 'zod';
import { quotedUpToQuery, redactUrlPathAndQuery } from './redact-url.js';
import { isLoopbackHost } from './loopback-host.js';

/**
 * The process environment, as documented in CONTRACT.md. One schema, parsed once at start-up;
 * everything else receives the typed result instead of reading process.env.
 */
const optionalUrl = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(
    z
      .url({
        protocol: /^https?$/,
        // zod's own message is a bare "Invalid URL", and the value itself is not shown when it does not
        // parse (it may hold a password): say what is wanted. A host without its scheme is the usual slip.
        error: 'must be an http:// or https:// URL, scheme included (e.g. https://host.example/path)',
      })
      .optional(),
  );

/** Plain decimal notation: an optional minus, digits, an optional fraction. */
const DECIMAL = /^-?\d+(?:\.\d+)?$/;

/**
 * A number variable. Set to nothing (`PORT=` in a shell, compose's `${PORT}` of an unset one) it
 * counts as unset, as its default, rather than as 0 (which for a port means "any free port").
 * Only decimal notation is read: Number() would also take `0x50` (port 80), `0b11` or `1e3`, more
 * likely a slip than what the operator meant.
 */
const numberVar = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v, ctx) => {
    if (typeof v !== 'string') return v;
    const text = v.trim();
    if (text === '') return undefined;
    if (!DECIMAL.test(text)) {
      ctx.issues.push({ code: 'custom', message: 'must be a decimal number', input: v });
      return z.NEVER;
    }
    return text;
  }, schema);

const port = z.coerce.number().int().min(0).max(65535);
/**
 * Milliseconds some timer waits: Node fires a timer of more than 2^31 - 1 ms after 1 ms instead, so
 * each has a realistic ceiling, named in the message.
 */
const millis = (min: number, max: number, what: string) =>
  z.coerce.number().int().min(min).max(max, `must be at most ${max} (${what})`);
/** Sent in an HTTP header (Authorization, x-sandbox-admin): one token of printable ASCII. */
const headerToken = z
  .string()
  .min(8, 'must be at least 8 characters')
  .regex(/^[\x21-\x7e]*$/, 'must be printable ASCII without spaces (it is sent in an HTTP header)');
/**
 * An OAuth client id or secret, as CXone issued it. A value copied with a line break or padding
 * (`kubectl create secret` from a file written by `echo`) would start the fleet and then fail every
 * token request with 401 invalid_client, far from the variable at fault.
 */
const oauthCredential = z
  .string()
  .min(1, 'must not be empty')
  .refine((v) => v.length === 0 || v === v.trim(), {
    message: 'must not start or end with spaces or line breaks (copied with a trailing newline?)',
  })
  // eslint-disable-next-line no-control-regex
  .refine((v) => !/[\u0000-\u001f\u007f]/.test(v.trim()), {
    message: 'must not contain control characters',
  });
/** What ioredis reads as the database: the URL's path, a number or nothing. */
const REDIS_DB_PATH = /^\/?\d*$/;
/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function hasCredentials(url: URL): boolean {
  return url.username !== '' || url.password !== '';
}

/** Canonical, padded standard base64 (what Standard Webhooks receivers decode a secret with). */
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The Standard Webhooks spec recommends secrets of 24 to 64 random bytes. */
export const WEBHOOK_SECRET_MIN_BYTES = 24;

/**
 * What is wrong with a WEBHOOK_SECRET, or undefined when nothing is: `whsec_` and the key in
 * canonical padded standard base64, at least 24 bytes once decoded. A looser check let through
 * `whsec_================` (an empty key) and secrets that receivers' base64 decoders read differently.
 */
export function webhookSecretProblem(secret: string): string | undefined {
  const shape = 'must look like whsec_<base64 of at least 24 random bytes>';
  if (!secret.startsWith('whsec_')) return `${shape}; it does not start with whsec_`;
  const encoded = secret.slice('whsec_'.length);
  if (!STANDARD_BASE64.test(encoded)) {
    return `${shape}; the part after whsec_ is not padded standard base64 (A-Z a-z 0-9 + /, length a multiple of 4, = only at the end)`;
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.toString('base64') !== encoded) {
    return `${shape}; the part after whsec_ is not canonical base64 (its last character carries stray bits)`;
  }
  if (key.length < WEBHOOK_SECRET_MIN_BYTES) {
    return `${shape}; it decodes to ${key.length} bytes (openssl rand -base64 32 makes a good one)`;
  }
  return undefined;
}

/** CXONE_CREATE_IDEMPOTENCY's values (see the schema). */
export const CREATE_IDEMPOTENCY_MODES = ['key', 'none'] as const;
export type CreateIdempotency = (typeof CREATE_IDEMPOTENCY_MODES)[number];

export const envSchema = z
  .object({
    REDIS_URL: z
      .string()
      .default('redis://127.0.0.1:6379')
      .pipe(
        z.url({
          protocol: /^rediss?$/,
          // A redis:// URL that does not parse (a port past 65535, a stray space or `@`) was told to be
          // a redis:// URL, and the value is not shown (it may hold a password): name what is wrong.
          error: (issue) =>
            typeof issue.input === 'string' && /^rediss?:\/\//i.test(issue.input.trim())
              ? 'is not a valid URL: check its host, its port (at most 65535) and any user:password@ part'
              : 'must be a redis:// or rediss:// URL',
        }),
      )
      .refine((url) => !URL.canParse(url) || REDIS_DB_PATH.test(new URL(url).pathname), {
        message: 'must name its database by number, if at all (redis://host:6379/0)',
      }),
    PORT: numberVar(port.default(3000)),
    // No default here: it depends on API_TOKEN (hostDefault), which one variable's schema cannot see.
    HOST: z
      .string()
      .refine((host) => isIP(host) !== 0 || HOSTNAME.test(host), {
        message: 'must be an IP address (0.0.0.0 for every interface) or a host name such as localhost',
      })
      .optional(),
    // Empty counts as unset, as for the numbers and the optional URLs (not HOST or REDIS_URL: README,
    // Configuration): compose passes `${API_TOKEN:-}` when the operator set none, and the fleet then
    // refuses to start naming it (required with CXONE_BASE_URL).
    API_TOKEN: z.preprocess((v) => (v === '' ? undefined : v), headerToken.optional()),
    /**
     * The client appends `/api/v2/…` and `/oauth2/token` to it: after a query or fragment those
     * would land in it and every call would go to the base's own path. Credentials are refused as
     * for WEBHOOK_URL: calls do not send them, and the start-up banner prints this URL.
     */
    CXONE_BASE_URL: optionalUrl
      .refine((url) => url === undefined || !/[?#]/.test(url), {
        message:
          'must not have a query or fragment (? or #): every call path is appended to it ' +
          '(e.g. https://api-c32.incontact.com/inContactAPI)',
      })
      .refine((url) => url === undefined || !URL.canParse(url) || !hasCredentials(new URL(url)), {
        message:
          'must not carry a user name or password (user:pass@host): CXone calls authenticate with ' +
          'CXONE_CLIENT_ID and CXONE_CLIENT_SECRET',
      }),
    CXONE_CLIENT_ID: oauthCredential.optional(),
    CXONE_CLIENT_SECRET: oauthCredential.optional(),
    CXONE_RATE_LIMIT_PER_MIN: numberVar(z.coerce.number().int().min(1).max(100_000).default(100)),
    /** Length of the rate-limit window; 60 000 in production, shorter in benchmarks and tests. */
    CXONE_RATE_LIMIT_WINDOW_MS: numberVar(millis(100, 3_600_000, 'an hour').default(60_000)),
    CXONE_TIMEOUT_MS: numberVar(millis(100, 600_000, 'ten minutes').default(10_000)),
    /**
     * Whether CXone de-duplicates a campaign create by its Idempotency-Key (`key`: the create carries
     * one and a create whose answer was lost is sent again, as the sandbox honours it) or not (`none`:
     * the v2 contract promises no such header, and on a platform that ignores it a create sent again
     * makes a second campaign dialing the same list). With `none` a create whose outcome is unknown is
     * never sent again: the launch fails naming the campaign to look for in CXone.
     */
    CXONE_CREATE_IDEMPOTENCY: z.enum(CREATE_IDEMPOTENCY_MODES).default('key'),
    SANDBOX_PORT: numberVar(port.default(4010)),
    SANDBOX_TOKEN_TTL_SECONDS: numberVar(
      z.coerce.number().int().min(1).max(86_400, 'must be at most 86400 (a day)').default(3600),
    ),
    SANDBOX_TIME_SCALE: numberVar(z.coerce.number().min(0.001).max(10_000).default(1)),
    SANDBOX_SEED: numberVar(z.coerce.number().int().default(42)),
    /**
     * The sandbox's own per-endpoint limit, as CXone's is its own: what the fleet is told
     * (CXONE_RATE_LIMIT_PER_MIN) is its belief about the tenant, which a sandbox that simply agreed
     * with it could never prove wrong.
     */
    SANDBOX_RATE_LIMIT_PER_MIN: numberVar(z.coerce.number().int().min(1).max(100_000).default(100)),
    SANDBOX_RATE_LIMIT_WINDOW_MS: numberVar(millis(100, 3_600_000, 'an hour').default(60_000)),
    /**
     * Failed client logins the sandbox's token endpoint takes per client id (per address for unknown
     * ids) per window before it answers 429: CXone's IdP locks a client that keeps failing, and a
     * sandbox that did not would let a fleet with a wrong secret hammer it unnoticed.
     */
    SANDBOX_AUTH_FAILURES_PER_MIN: numberVar(z.coerce.number().int().min(1).max(100_000).default(10)),
    SANDBOX_AUTH_FAILURE_WINDOW_MS: numberVar(millis(100, 3_600_000, 'an hour').default(60_000)),
    /** When set, the sandbox's /__sandbox/* control routes require header x-sandbox-admin with this value. */
    SANDBOX_ADMIN_TOKEN: headerToken.optional(),
    /**
     * `ignored`: the sandbox creates a campaign for every create, whatever its Idempotency-Key, as a
     * platform without the feature would — for trying CXONE_CREATE_IDEMPOTENCY=none against it.
     */
    SANDBOX_IDEMPOTENCY_KEYS: z.enum(['honoured', 'ignored']).default('honoured'),
    /** Worker role only: serve /metrics, /healthz and /readyz on this port (unset = no HTTP in workers). */
    METRICS_PORT: numberVar(port.optional()),
    /**
     * No user name or password: Node's fetch refuses a URL with credentials, so such a URL could
     * never deliver, and its password would be copied into every failure record. A receiver that
     * wants a shared secret checks the signature (WEBHOOK_SECRET) instead.
     */
    WEBHOOK_URL: optionalUrl.refine(
      (url) => url === undefined || !URL.canParse(url) || !hasCredentials(new URL(url)),
      {
        message:
          'must not carry a user name or password (user:pass@host): deliveries cannot send them; ' +
          'receivers authenticate deliveries by their signature (WEBHOOK_SECRET)',
      },
    ),
    WEBHOOK_SECRET: z
      .string()
      .superRefine((secret, ctx) => {
        const problem = webhookSecretProblem(secret);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /**
     * The secret WEBHOOK_SECRET replaces, while receivers move over: every attempt is signed with
     * both, so a receiver on either verifies it. Empty counts as unset (the rotation is over).
     */
    WEBHOOK_SECRET_PREVIOUS: z.preprocess(
      (v) => (v === '' ? undefined : v),
      z
        .string()
        .superRefine((secret, ctx) => {
          const problem = webhookSecretProblem(secret);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .optional(),
    ),
    /**
     * Also deliver every appended audit record as an `audit.record.appended` event (needs WEBHOOK_URL).
     * Off by default: it adds several events per launch, and most receivers want only state events.
     */
    WEBHOOK_AUDIT_RECORDS: z.stringbool().default(false),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Redis key prefix for every queue and key; hash-tagged so all keys land in one Redis Cluster slot. */
    KEY_PREFIX: z
      .string()
      .regex(/^\{[A-Za-z0-9_-]+\}$/, 'must be a hash tag such as {cxo}')
      .default('{cxo}'),
    /**
     * For one start: the fingerprint (12 hex characters or more) of the fleet that used KEY_PREFIX
     * last, whose place this fleet takes (src/shared/fleet-claim.ts). Empty counts as unset.
     */
    FLEET_TAKEOVER: z.preprocess(
      (v) => (v === '' ? undefined : v),
      z
        .string()
        .regex(
          /^[0-9a-fA-F]{12,64}$/,
          'must be the fingerprint the refusal line names (12 hex characters or more), e.g. FLEET_TAKEOVER=3f9a0c6b21de',
        )
        .transform((v) => v.toLowerCase())
        .optional(),
    ),
    WORKER_CONCURRENCY: numberVar(z.coerce.number().int().min(1).max(1000).default(20)),
    SHUTDOWN_TIMEOUT_MS: numberVar(millis(0, 3_600_000, 'an hour').default(30_000)),
    /**
     * How long an active campaign may go without a statistics read (every poll failing) before the
     * abandonment guard pauses it (compliance/blind.ts): at least two poll ticks, at most an hour.
     */
    GUARD_BLIND_PAUSE_AFTER_MS: numberVar(millis(30_000, 3_600_000, 'an hour').default(300_000)),
    /** Allow campaigns that disable the do-not-call check (issue 7); off unless the deployment opts in. */
    ALLOW_DNC_DISABLED: z.stringbool().default(false),
    /** Read-only Bull Board for wide audiences. */
    BULL_BOARD_READ_ONLY: z.stringbool().default(false),
    /** Audit stream retention; 0 keeps everything (nothing is trimmed unless this is set). */
    AUDIT_RETENTION_DAYS: numberVar(z.coerce.number().int().min(0).max(36_500).default(0)),
  })
  .superRefine(
    (env, ctx) => {
      crossFieldProblems(env as Partial<Record<keyof typeof env, unknown>>, ctx);
    },
    // Also when another variable is refused outright (PORT=abc): by default zod skips an object's
    // refinements after such a problem, and the operator would learn of a missing CXONE_CLIENT_ID only
    // on the next start, not in the same list of every problem.
    { when: () => true },
  );

/**
 * Problems no single variable shows. Run on what was parsed so far, so a variable refused on its own
 * may still hold its raw text (or be absent): each check looks only at values of the expected type.
 */
function crossFieldProblems(
  env: Partial<Record<string, unknown>>,
  ctx: { addIssue: (issue: { code: 'custom'; path: string[]; message: string }) => void },
): void {
  if (env.CXONE_BASE_URL) {
    for (const key of ['CXONE_CLIENT_ID', 'CXONE_CLIENT_SECRET', 'API_TOKEN'] as const) {
      if (!env[key]) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'is required when CXONE_BASE_URL is set (it has no sandbox default)',
        });
      }
    }
  }
  // Without CXONE_BASE_URL the sandbox is embedded next to the API, on 127.0.0.1: one port each
  // (0 asks the system for a free one, a different one each time).
  if (
    !env.CXONE_BASE_URL &&
    typeof env.PORT === 'number' &&
    env.PORT !== 0 &&
    env.PORT === env.SANDBOX_PORT
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['PORT'],
      message: `is ${env.PORT}, the embedded sandbox's port too (SANDBOX_PORT); give the API and the sandbox different ports`,
    });
  }
  if (env.WEBHOOK_URL && !env.WEBHOOK_SECRET) {
    ctx.addIssue({
      code: 'custom',
      path: ['WEBHOOK_SECRET'],
      message: 'is required when WEBHOOK_URL is set',
    });
  }
}

export type Env = z.infer<typeof envSchema>;

export interface AppConfig {
  redisUrl: string;
  port: number;
  host: string;
  apiToken: string;
  /** True when the API token is the printed sandbox default (unset, or set to it) rather than one the operator chose. */
  apiTokenIsDefault: boolean;
  sandboxMode: boolean;
  cxone: {
    baseUrl: string;
    clientId: string;
    clientSecret: string;
    rateLimitPerWindow: number;
    rateLimitWindowMs: number;
    timeoutMs: number;
    /** CXONE_CREATE_IDEMPOTENCY: whether a create carries an Idempotency-Key CXone de-duplicates by. */
    createIdempotency: CreateIdempotency;
  };
  sandbox: {
    port: number;
    tokenTtlSeconds: number;
    timeScale: number;
    seed: number;
    adminToken?: string | undefined;
    /** Requests the sandbox answers per endpoint per window before 429 (SANDBOX_RATE_LIMIT_*). */
    rateLimitPerWindow: number;
    rateLimitWindowMs: number;
    /** Failed token-endpoint logins per client (address) per window before 429 (SANDBOX_AUTH_FAILURE*). */
    authFailuresPerWindow: number;
    authFailureWindowMs: number;
    /** SANDBOX_IDEMPOTENCY_KEYS: false when the sandbox ignores a create's Idempotency-Key. */
    idempotencyKeys: boolean;
  };
  /** `previousSecret`: WEBHOOK_SECRET_PREVIOUS, signed with too while a rotation is under way. */
  webhook: { url: string; secret: string; previousSecret?: string } | undefined;
  /**
   * WEBHOOK_AUDIT_RECORDS: publish each appended audit record as `audit.record.appended`. Has an
   * effect only with `webhook` set.
   */
  webhookAuditRecords: boolean;
  logLevel: Env['LOG_LEVEL'];
  keyPrefix: string;
  /** FLEET_TAKEOVER: the last fleet on KEY_PREFIX that this one may replace at start-up. */
  fleetTakeover?: string | undefined;
  workerConcurrency: number;
  shutdownTimeoutMs: number;
  /** GUARD_BLIND_PAUSE_AFTER_MS: no statistics read for this long pauses an active campaign. */
  guardBlindPauseAfterMs: number;
  allowDncDisabled: boolean;
  bullBoardReadOnly: boolean;
  auditRetentionDays: number;
  /** Port of the worker role's metrics/health server; undefined = none. */
  metricsPort?: number | undefined;
}

export const SANDBOX_DEFAULTS = {
  apiToken: 'dev-token',
  clientId: 'sandbox-client',
  clientSecret: 'sandbox-secret',
} as const;

/** HOST when it is unset and API_TOKEN is set: every interface, as containers and servers need. */
export const HOST_DEFAULT = '0.0.0.0';
/** HOST when both are unset: the API then takes the printed sandbox token, so only this machine may reach it. */
export const HOST_DEFAULT_WITHOUT_API_TOKEN = '127.0.0.1';

/**
 * Whether the API takes the token the README and the banner print: API_TOKEN unset (or empty), or set
 * to that same published value — which is no secret either, however it got into the environment.
 */
export function takesPublishedToken(apiToken: string | undefined): boolean {
  return apiToken === undefined || apiToken === SANDBOX_DEFAULTS.apiToken;
}

/** The interface HOST stands for when unset (API_TOKEN parsed: undefined when unset or empty). */
export function hostDefault(apiToken: string | undefined): string {
  return takesPublishedToken(apiToken) ? HOST_DEFAULT_WITHOUT_API_TOKEN : HOST_DEFAULT;
}

export interface LoadConfigOptions {
  /**
   * Whether this process serves the producer API (the `all` and `api` roles, the demo): only then
   * does a HOST that other machines reach, with API_TOKEN unset, expose the printed sandbox token, and
   * is refused. A `worker` (metrics and probes only) or a `sandbox` role may bind it. Default true.
   */
  servesApi?: boolean;
}

/**
 * The problem with serving the API on a HOST other machines reach while API_TOKEN is unset or the
 * published sandbox token, or undefined. Read from the raw environment, so it is listed with every other problem at once; a HOST
 * or CXONE_BASE_URL refused on its own (or set: API_TOKEN is then required anyway) is not one.
 */
function exposedDefaultTokenProblem(source: NodeJS.ProcessEnv): string | undefined {
  const host = envSchema.shape.HOST.safeParse(source.HOST);
  if (!host.success || host.data === undefined || isLoopbackHost(host.data)) return undefined;
  const token = source.API_TOKEN ?? '';
  if (token === SANDBOX_DEFAULTS.apiToken) {
    // Set by hand to the printed token (a copied smoke command, a compose .env): as public as unset,
    // and on a real CXone too.
    return (
      `HOST: is ${host.data}, which other machines reach, while API_TOKEN is the sandbox's published ` +
      `token (${SANDBOX_DEFAULTS.apiToken}), printed in the README: anyone on the network could launch, ` +
      'stop and read campaigns; set API_TOKEN to a secret of your own (e.g. $(openssl rand -hex 32)), ' +
      `or unset HOST to listen on ${HOST_DEFAULT_WITHOUT_API_TOKEN} only`
    );
  }
  // As their schemas read them: API_TOKEN unset or empty, CXONE_BASE_URL unset or blank.
  if (token !== '' || (source.CXONE_BASE_URL ?? '').trim() !== '') return undefined;
  return (
    `HOST: is ${host.data}, which other machines reach, while API_TOKEN is unset: the API would take ` +
    `the sandbox's published token (${SANDBOX_DEFAULTS.apiToken}) from anyone on the network and let them ` +
    'launch, stop and read campaigns; set API_TOKEN to a secret of your own (e.g. $(openssl rand -hex 32)), ' +
    `or unset HOST to listen on ${HOST_DEFAULT_WITHOUT_API_TOKEN} only`
  );
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError with one line per problem, each naming the variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env, opts: LoadConfigOptions = {}): AppConfig {
  const parsed = envSchema.safeParse(source);
  const exposed = opts.servesApi === false ? undefined : exposedDefaultTokenProblem(source);
  if (!parsed.success || exposed !== undefined) {
    throw new ConfigError([
      ...(parsed.error?.issues ?? []).map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const value = issue.path.length === 1 ? source[String(issue.path[0])] : undefined;
        const shown =
          value === undefined || /SECRET|TOKEN|PASSWORD/.test(name)
            ? ''
            : name === 'WEBHOOK_URL' && value.trim() !== ''
              ? // Receivers keep tokens in its path and query: shown as the workers' label, never whole.
                ` (got ${JSON.stringify(redactUrlPathAndQuery(value.trim()))})`
              : /_URL$/.test(name) && value.trim() !== ''
                ? // Not past a `?` or `#`: CXONE_BASE_URL refuses a query, which may be a token.
                  ` (got ${JSON.stringify(quotedUpToQuery(value))})`
                : ` (got ${JSON.stringify(value)})`;
        return `${name}: ${issue.message}${shown}`;
      }),
      ...(exposed === undefined ? [] : [exposed]),
    ]);
  }
  const env = parsed.data;
  const sandboxMode = env.CXONE_BASE_URL === undefined;
  return {
    redisUrl: env.REDIS_URL,
    port: env.PORT,
    host: env.HOST ?? hostDefault(env.API_TOKEN),
    apiToken: env.API_TOKEN ?? SANDBOX_DEFAULTS.apiToken,
    apiTokenIsDefault: takesPublishedToken(env.API_TOKEN),
    sandboxMode,
    cxone: {
      baseUrl: env.CXONE_BASE_URL ?? `http://127.0.0.1:${env.SANDBOX_PORT}`,
      clientId: env.CXONE_CLIENT_ID ?? SANDBOX_DEFAULTS.clientId,
      clientSecret: env.CXONE_CLIENT_SECRET ?? SANDBOX_DEFAULTS.clientSecret,
      rateLimitPerWindow: env.CXONE_RATE_LIMIT_PER_MIN,
      rateLimitWindowMs: env.CXONE_RATE_LIMIT_WINDOW_MS,
      timeoutMs: env.CXONE_TIMEOUT_MS,
      createIdempotency: env.CXONE_CREATE_IDEMPOTENCY,
    },
    sandbox: {
      port: env.SANDBOX_PORT,
      tokenTtlSeconds: env.SANDBOX_TOKEN_TTL_SECONDS,
      timeScale: env.SANDBOX_TIME_SCALE,
      seed: env.SANDBOX_SEED,
      adminToken: env.SANDBOX_ADMIN_TOKEN,
      rateLimitPerWindow: env.SANDBOX_RATE_LIMIT_PER_MIN,
      rateLimitWindowMs: env.SANDBOX_RATE_LIMIT_WINDOW_MS,
      authFailuresPerWindow: env.SANDBOX_AUTH_FAILURES_PER_MIN,
      authFailureWindowMs: env.SANDBOX_AUTH_FAILURE_WINDOW_MS,
      idempotencyKeys: env.SANDBOX_IDEMPOTENCY_KEYS === 'honoured',
    },
    webhook:
      env.WEBHOOK_URL && env.WEBHOOK_SECRET
        ? {
            url: env.WEBHOOK_URL,
            secret: env.WEBHOOK_SECRET,
            ...(env.WEBHOOK_SECRET_PREVIOUS ? { previousSecret: env.WEBHOOK_SECRET_PREVIOUS } : {}),
          }
        : undefined,
    webhookAuditRecords: env.WEBHOOK_AUDIT_RECORDS,
    logLevel: env.LOG_LEVEL,
    keyPrefix: env.KEY_PREFIX,
    fleetTakeover: env.FLEET_TAKEOVER,
    workerConcurrency: env.WORKER_CONCURRENCY,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    guardBlindPauseAfterMs: env.GUARD_BLIND_PAUSE_AFTER_MS,
    allowDncDisabled: env.ALLOW_DNC_DISABLED,
    bullBoardReadOnly: env.BULL_BOARD_READ_ONLY,
    auditRetentionDays: env.AUDIT_RETENTION_DAYS,
    metricsPort: env.METRICS_PORT,
  };
}

/** Below this many characters an API_TOKEN draws a start-up warning (weakApiTokenWarning). */
export const API_TOKEN_WARN_BELOW = 32;

/**
 * Pure: the warning for an API_TOKEN of the operator's own too short to withstand guessing, on a role
 * that serves the API, or undefined. The API answers every guess (its failed-authentication limit
 * tells a guessing address to back off, and counts it, but still checks its tokens:
 * src/producers/auth-throttle.ts), so the token's length is what keeps it from being found; the
 * configuration still accepts 8 characters (CONTRACT), which a warning does not take away.
 */
export function weakApiTokenWarning(
  role: string,
  config: Pick<AppConfig, 'apiToken' | 'apiTokenIsDefault'>,
): string | undefined {
  if (config.apiTokenIsDefault || (role !== 'all' && role !== 'api')) return undefined;
  const length = config.apiToken.length;
  if (length >= API_TOKEN_WARN_BELOW) return undefined;
  return (
    `API_TOKEN is ${length} characters: short enough to be guessed by a caller who can reach the API, ` +
    `which checks every token it is sent; use ${API_TOKEN_WARN_BELOW} or more random characters, e.g. openssl rand -hex 32`
  );
}

/**
 * Pure: the warning for METRICS_PORT set on a role that does not read it, or undefined. Only a
 * `worker`, which has no API, serves /metrics, /healthz and /readyz on a port of its own; on `api`
 * and `all` the API serves them on PORT, and an operator pointing Prometheus at METRICS_PORT would
 * otherwise scrape nothing and not be told why.
 */
export function metricsPortWarning(
  role: string,
  config: Pick<AppConfig, 'metricsPort' | 'port'>,
): string | undefined {
  if (config.metricsPort === undefined || role === 'worker') return undefined;
  const ignored = `METRICS_PORT=${config.metricsPort} is ignored by the ${role} role: only a worker-role process serves /metrics, /healthz and /readyz on METRICS_PORT`;
  if (role === 'sandbox') return `${ignored}; the sandbox role serves no metrics`;
  const port = config.port === 0 ? 'PORT=0: the port the banner names' : `PORT ${config.port}`;
  return `${ignored}; this process serves them on the API's port (${port}), e.g. /metrics there`;
}

/** The seed tutorial's name for the webhook destination, which this product calls WEBHOOK_URL. */
export const SEED_WEBHOOK_URL_VARIABLE = 'EXTERNAL_WEBHOOK_URL';

/**
 * Pure: the warning for webhook settings that send nothing, on a role that publishes or delivers
 * events, or undefined. Without WEBHOOK_URL events are recorded but not sent, which is right when
 * nobody asked for webhooks; but an operator who set the seed's EXTERNAL_WEBHOOK_URL (not read: a
 * name of no meaning here, ignored like any other), or a WEBHOOK_SECRET, WEBHOOK_SECRET_PREVIOUS or
 * WEBHOOK_AUDIT_RECORDS=true for a receiver, would otherwise wait for deliveries that never come and
 * not be told why. Names variables only: a URL may carry a token in its path or query.
 */
export function webhooksOffWarning(
  role: string,
  env: Readonly<Record<string, string | undefined>>,
  config: Pick<AppConfig, 'webhook' | 'webhookAuditRecords'>,
): string | undefined {
  if (role === 'sandbox') return undefined;
  const seedUrl = (env[SEED_WEBHOOK_URL_VARIABLE] ?? '').trim() !== '';
  if (config.webhook !== undefined) {
    if (!seedUrl || env[SEED_WEBHOOK_URL_VARIABLE]?.trim() === config.webhook.url) return undefined;
    return `${SEED_WEBHOOK_URL_VARIABLE} is not read (it is the seed tutorial's name): webhooks go to WEBHOOK_URL only; unset ${SEED_WEBHOOK_URL_VARIABLE}`;
  }
  if (seedUrl) {
    return (
      `${SEED_WEBHOOK_URL_VARIABLE} is set but not read (it is the seed tutorial's name): no webhook is sent; ` +
      'set WEBHOOK_URL to the receiver instead, with WEBHOOK_SECRET (whsec_…)'
    );
  }
  const meant = [
    ...(env.WEBHOOK_SECRET ? ['WEBHOOK_SECRET'] : []),
    ...(env.WEBHOOK_SECRET_PREVIOUS?.trim() ? ['WEBHOOK_SECRET_PREVIOUS'] : []),
    ...(config.webhookAuditRecords ? ['WEBHOOK_AUDIT_RECORDS=true'] : []),
  ];
  if (meant.length === 0) return undefined;
  return (
    `${meant.join(', ')} ${meant.length === 1 ? 'is' : 'are'} set but WEBHOOK_URL is not: no webhook is sent ` +
    '(events are recorded only); set WEBHOOK_URL to the receiver, or unset ' +
    (meant.length === 1 ? 'it' : 'them')
  );
}
