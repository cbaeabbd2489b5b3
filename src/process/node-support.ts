/**
 * Whether this Node.js can run the orchestrator at all. Fastify's static-file plugin and Bull Board
 * load ES-module-only packages (`content-disposition`, `cookie`) with `require()`, which Node 20
 * allows from 20.19 on (`process.features.require_module`); before it, or with the feature turned
 * off, the first import dies with an ERR_REQUIRE_ESM stack trace from inside node_modules that names
 * neither the Node version nor what to do — even for `--help`.
 */

/** The oldest Node 20 release that loads ES modules with require() by default. */
export const MIN_NODE_VERSION = '20.19.0';

function olderThan(version: string, minimum: string): boolean {
  const a = version.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const b = minimum.split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}

/**
 * Pure: the one line saying why this Node cannot start the orchestrator, or undefined when it can.
 * `version` is `process.versions.node`; `requireModule` is `process.features.require_module`
 * (undefined before Node 20.19, false under `--no-experimental-require-module`).
 */
export function nodeSupportProblem(version: string, requireModule: boolean | undefined): string | undefined {
  if (requireModule === true) return undefined;
  if (olderThan(version, MIN_NODE_VERSION)) {
    return (
      `cxone-orchestrator cannot start: Node.js ${version} is too old; it needs ${MIN_NODE_VERSION} or later ` +
      '(Fastify and Bull Board load ES-module-only packages with require(), which older releases refuse): ' +
      'install a current Node 20 or 22 (e.g. nvm install 20)'
    );
  }
  return (
    `cxone-orchestrator cannot start: require() of ES modules is turned off in Node.js ${version} ` +
    '(--no-experimental-require-module, on the command line or in NODE_OPTIONS), and Fastify and Bull Board ' +
    'need it: remove that flag'
  );
}
