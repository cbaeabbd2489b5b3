#!/usr/bin/env node
/**
 * `cxo`: the orchestrator from a terminal or a script. See `cxo --help`; exit codes are listed in
 * args.ts (EXIT) and docs/operations.md.
 */
import { EXIT } from './args.js';
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
// output it wanted, not a crash to print a stack trace for. Any other failure to write (a full disk
// under `cxo audit ID --export > trail.jsonl`) is: one line and exit 1, as the audit tool's export.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  process.stderr.write(`cxo: could not write the output (${err.code ?? 'error'}): ${err.message}\n`);
  process.exit(EXIT.usage);
});

const code = await runCli(process.argv.slice(2), process.env, processIo(controller.signal));
// Node reports a failed write after it returns: without waiting for the output to be handed over,
// cxo exited with the command's code (0) before hearing that none of it was written.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(code);
