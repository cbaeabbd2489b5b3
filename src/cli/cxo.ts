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
  // waits and watch end cleanly, a one-shot command exits 130. A second one leaves at once.
  if (interrupted) process.exit(130);
  interrupted = true;
  controller.abort();
});

const code = await runCli(process.argv.slice(2), process.env, processIo(controller.signal));
process.exit(code);
