import http from 'node:http';

/**
 * The upstream system's HTTP client: node:http over keep-alive sockets, in the load generator's own
 * process (load-generator.ts). A plain keep-alive client, as a CRM's would be: undici's fetch spends
 * several times more CPU per request (web streams, AbortSignal, header objects), which matters on a
 * machine whose two cores the client shares with the fleet, Redis and the sandbox.
 */
export function createJsonClient(baseUrl: string, headers: Record<string, string>) {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
  return {
    post(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
      const payload = Buffer.from(JSON.stringify(body));
      return new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: url.hostname,
            port: url.port,
            path,
            method: 'POST',
            agent,
            headers: { ...headers, 'content-type': 'application/json', 'content-length': payload.length },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              try {
                resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : null });
              } catch (err) {
                reject(err as Error);
              }
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    },
    close(): void {
      agent.destroy();
    },
  };
}
