#!/usr/bin/env node
/**
 * `cxo`: the orchestrator from a terminal or a script. See `cxo --help`; exit codes are listed in
 * args.ts (EXIT) and docs/operations.md.
 */
import { processIo, runCli } from './run.js';

const controller = new AbortController();
let interrupted = false;
process.on('SIGINT', () => {
  // First Ctrl-C ends waits and watch cleanly; a second one leaves at once.
  if (interrupted) process.exit(130);
  interrupted = true;
  controller.abort();
});

const code = await runCli(process.argv.slice(2), process.env, processIo(controller.signal));
process.exit(code);
