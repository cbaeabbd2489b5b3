/**
 * Whether this Node.js can run the orchestrator at all. Fastify's static-file plugin and Bull Board
 * load ES-module-only packages (`content-disposition`, `cookie`) with `require()`, which Node allows
 * by default from 20.19 in Node 20 and from 22.12 in Node 22 (never in 21), as
 * `process.features.require_module` says; without it the first import dies with an ERR_REQUIRE_ESM
 * stack trace from inside node_modules that names neither the Node version nor what to do — even for
 * `--help`.
 */

/** The first release of each line that loads ES modules with require() by default. */
export const MIN_NODE_VERSIONS = '20.19.0 (Node 20) or 22.12.0 (Node 22 and later)';

function parts(version: string): [number, number, number] {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map((part) => Number.parseInt(part, 10) || 0);
  return [major, minor, patch];
}

/** Whether `version` is a release whose require() does not load ES modules unless told to. */
function withoutRequireModuleByDefault(version: string): boolean {
  const [major, minor] = parts(version);
  if (major < 20 || major === 21) return true;
  if (major === 20) return minor < 19;
  if (major === 22) return minor < 12;
  return false;
}

/**
 * Pure: the one line saying why this Node cannot start the orchestrator, or undefined when it can.
 * `version` is `process.versions.node`; `requireModule` is `process.features.require_module`
 * (undefined on releases that predate it, false under `--no-experimental-require-module`).
 */
export function nodeSupportProblem(version: string, requireModule: boolean | undefined): string | undefined {
  if (requireModule === true) return undefined;
  if (withoutRequireModuleByDefault(version)) {
    return (
      `cxone-orchestrator cannot start: Node.js ${version} is too old; it needs ${MIN_NODE_VERSIONS} ` +
      '(Fastify and Bull Board load ES-module-only packages with require(), which older releases refuse): ' +
      'install a current Node 20 or 22 (e.g. nvm install 22)'
    );
  }
  return (
    `cxone-orchestrator cannot start: require() of ES modules is turned off in Node.js ${version} ` +
    '(--no-experimental-require-module, on the command line or in NODE_OPTIONS), and Fastify and Bull Board ' +
    'need it: remove that flag'
  );
}
