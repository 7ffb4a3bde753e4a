// Free loopback TCP ports for throw-away servers. The kernel picks a port for
// a listener on :0; we read it and close. Ports handed out in this process are
// remembered so two servers started back to back never get the same one.
import { createServer } from 'node:net';

const handedOut = new Set<number>();

function probe(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probe();
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('could not find a free loopback port after 50 attempts');
}

export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}

/**
 * Starts a server on `count` fresh free ports. A port can be taken by someone
 * else between our probe and the server's bind; `start` then throws an error
 * with code EADDRINUSE and we try again with new ports (3 attempts).
 */
export async function onFreePorts(count: number, start: (ports: number[]) => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await start(await freePorts(count));
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= 3) throw err;
    }
  }
}
