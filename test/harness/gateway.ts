// One call for the common e2e setup of the XMPP-side tests: a real XMPP
// server (Prosody or ejabberd) with the ponte components plus test.localhost,
// ponte serving the in-repo test network there, and helpers to log users in.
import { createTestNetwork, type TestNetworkOptions, type TestWorld } from '../networks/test-network.js';
import { startPonte, type TestPonte } from './ponte.js';
import { connectClient, type TestXmppClient } from './xmpp-client.js';
import { startEjabberd, startProsody, type XmppServer } from './xmpp-server.js';

export const TEST_DOMAIN = 'test.localhost';

export interface TestGateway {
  server: XmppServer;
  gateway: TestPonte;
  world: TestWorld;
  /** Registers `user@localhost` on the XMPP server (once) and logs a client in. */
  client(user: string, resource?: string): Promise<TestXmppClient>;
  stop(): Promise<void>;
}

export const SERVERS = [
  ['Prosody', startProsody],
  ['ejabberd', startEjabberd],
] as const;

export async function startTestGateway(
  start: (opts: { components: string[] }) => Promise<XmppServer>,
  options: TestNetworkOptions & { env?: Record<string, string>; allow?: string[] } = {},
): Promise<TestGateway> {
  const server = await start({ components: ['irc.localhost', 'matrix.localhost', TEST_DOMAIN] });
  const { network, world } = createTestNetwork(options);
  let gateway: TestPonte;
  try {
    gateway = await startPonte(server, options.env ?? {}, {
      extraNetworks: [{ network, domain: TEST_DOMAIN, allow: options.allow ?? ['localhost'] }],
    });
    await gateway.ponte.waitOnline(30_000);
  } catch (err) {
    await server.stop();
    throw err;
  }
  const registered = new Set<string>();
  const clients: TestXmppClient[] = [];
  return {
    server,
    gateway,
    world,
    async client(user, resource = 'test') {
      if (!registered.has(user)) {
        await server.registerUser(user, `${user}-pw`);
        registered.add(user);
      }
      const client = await connectClient(server, user, `${user}-pw`, resource);
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
      await gateway.stop();
      await server.stop();
    },
  };
}
