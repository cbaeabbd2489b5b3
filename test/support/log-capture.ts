import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** One JSON line a pino logger wrote. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A real pino logger at `level` whose every line is parsed and kept, for tests that assert on logs. */
export function recordingLogger(level: string = 'info'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as LogLine);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
