import { connect, type Socket } from 'node:net';

/** One command Redis reported through MONITOR. */
export interface MonitoredCommand {
  /** `lua` for a command a script ran inside Redis, otherwise the client's address. */
  source: string;
  args: string[];
}

/** A MONITOR connection: `stop()` closes it and gives back every command seen since it started. */
export interface RedisMonitor {
  stop(): Promise<MonitoredCommand[]>;
}

/**
 * Undoes Redis's quoting of one MONITOR argument (sdscatrepr: \" \\ \n \r \t \a \b and \xHH).
 * Exported for its test.
 */
export function unquoteMonitorArg(quoted: string): string {
  const bytes: number[] = [];
  const simple: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8, '"': 34, '\\': 92 };
  for (let i = 0; i < quoted.length; i++) {
    const c = quoted[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const next = quoted[++i]!;
    if (next === 'x') {
      bytes.push(parseInt(quoted.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(simple[next] ?? next.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Parses one MONITOR line (`1796072639.311906 [0 127.0.0.1:34422] "hget" "key" "field"`), or
 * returns undefined for a line that is not a report (the +OK that starts monitoring).
 */
export function parseMonitorLine(line: string): MonitoredCommand | undefined {
  const head = /^\d+\.\d+ \[\d+ ([^\]]+)\] /.exec(line);
  if (!head) return undefined;
  const args: string[] = [];
  const argPattern = /"((?:[^"\\]|\\.)*)"/g;
  const rest = line.slice(head[0].length);
  for (let m = argPattern.exec(rest); m; m = argPattern.exec(rest)) args.push(unquoteMonitorArg(m[1]!));
  return { source: head[1]!, args };
}

/**
 * Starts MONITOR on a connection of its own, resolving once Redis has confirmed it.
 *
 * Not ioredis's `monitor()`: it switches to monitoring mode a microtask after MONITOR's +OK, so
 * on a busy server a report arriving in the same TCP read as the +OK is taken for the reply to a
 * command never sent, and the connection fails with "Command queue state error" (seen in CI,
 * with other test files' traffic on the same Redis).
 */
export function startRedisMonitor(redisUrl: string): Promise<RedisMonitor> {
  const url = new URL(redisUrl);
  const db = url.pathname.replace(/^\//, '');
  const setup: string[] = [];
  if (url.password) {
    const user = url.username ? `${decodeURIComponent(url.username)} ` : '';
    setup.push(`AUTH ${user}${decodeURIComponent(url.password)}`);
  }
  if (db) setup.push(`SELECT ${db}`);
  setup.push('MONITOR');
  const seen: MonitoredCommand[] = [];
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    // AUTH and SELECT answer +OK too: the watch starts at the last +OK, MONITOR's.
    let okToCome = setup.length;
    let buffered = '';
    socket.setEncoding('utf8');
    socket.once('error', reject);
    socket.on('connect', () => socket.write(setup.map((c) => `${c}\r\n`).join('')));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (line.startsWith('-')) {
          socket.destroy();
          reject(new Error(`Redis refused ${setup.join(', ')}: ${line.slice(1)}`));
          return;
        }
        const report = parseMonitorLine(line.slice(1));
        if (report) seen.push(report);
        else if (line === '+OK' && --okToCome === 0) {
          resolve({
            stop: () =>
              new Promise((done) => {
                socket.once('close', () => done(seen.slice()));
                socket.end();
              }),
          });
        }
      }
    });
  });
}
