#!/usr/bin/env node
/**
 * `cxo`: the orchestrator from a terminal or a script. See `cxo --help`; exit codes are listed in
 * args.ts (EXIT) and docs/operations.md.
 */
import { processIo, runCli } from './run.js';

const controller = new AbortController();
let interrupted = false;
process.on('SIGINT', () => {
  // The first Ctrl-C aborts the request in flight too (runCli hands the signal to the API client):
  // a launch wait ends cleanly (0), watch with 0 or, while its polls fail, 5 (see watch in run.ts),
  // a one-shot command with 130. A second one leaves at once. These are cxo's own codes: under
  // `npm run` (and npx) the shell sees 130 whatever cxo returns, because npm reports the SIGINT.
  if (interrupted) process.exit(130);
  interrupted = true;
  controller.abort();
});

// A reader that stops reading (`cxo watch ID | head -5`) closes the pipe: that is the end of the
// output it wanted, not a crash to print a stack trace for.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await runCli(process.argv.slice(2), process.env, processIo(controller.signal));
process.exit(code);
