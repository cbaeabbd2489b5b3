/**
 * Imported first by the entry points that load Fastify (src/main.ts, src/demo.ts): ES modules are
 * evaluated in import order, so this refuses an unsuitable Node with one line and exit code 1 before
 * any import below it reaches the require() that would crash (src/process/node-support.ts). It
 * imports nothing else on purpose.
 */
import { nodeSupportProblem } from './node-support.js';

const problem = nodeSupportProblem(
  process.versions.node,
  (process.features as { require_module?: boolean }).require_module,
);
if (problem !== undefined) {
  console.error(problem);
  process.exit(1);
}
