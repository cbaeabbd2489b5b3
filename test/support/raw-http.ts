import net from 'node:net';

/**
 * Sends `text` as is on a fresh connection and resolves with everything the server answered until it
 * closed the connection: for request targets and malformed requests that HTTP clients (and Fastify's
 * inject) would normalise or refuse to send. The text should ask for `Connection: close`, or be a
 * request the server closes the connection after.
 */
export function rawExchange(port: number, text: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => socket.write(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}
