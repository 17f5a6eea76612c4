// A TCP proxy that misbehaves on demand, to play a slow, stalled or broken network between two
// real DICOM peers: delay every chunk, stop forwarding (stall), or cut the connection after a
// number of client bytes (an association aborted mid-series).
import net from 'node:net';

export interface ProxyBehaviour {
  /** Added before each forwarded chunk, both directions. */
  delayMs?: number;
  /** Forward nothing (connections stay open, silent). */
  stall?: boolean;
  /** Destroy both sockets once this many client->server bytes have been forwarded. */
  cutAfterBytes?: number;
}

export interface Proxy {
  port: number;
  behaviour: ProxyBehaviour;
  connections: number;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, behaviour: ProxyBehaviour = {}, targetHost = '127.0.0.1'): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  const proxy: Proxy = { port: 0, behaviour, connections: 0, close: async () => undefined };
  const server = net.createServer((client) => {
    proxy.connections++;
    const upstream = net.connect({ host: targetHost, port: targetPort });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    let forwarded = 0;
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    const pipe = (from: net.Socket, to: net.Socket, counted: boolean) => {
      // Chunks are forwarded in order: each waits for the previous one's delay.
      let chain = Promise.resolve();
      from.on('data', (d: Buffer) => {
        if (proxy.behaviour.stall) return;
        chain = chain.then(async () => {
          if (proxy.behaviour.delayMs) await new Promise((r) => setTimeout(r, proxy.behaviour.delayMs));
          if (to.destroyed) return;
          const cut = proxy.behaviour.cutAfterBytes;
          if (counted && cut !== undefined && forwarded + d.length >= cut) {
            to.write(d.subarray(0, Math.max(0, cut - forwarded)));
            forwarded = cut;
            end();
            return;
          }
          if (counted) forwarded += d.length;
          to.write(d);
        });
      });
      from.on('close', () => void chain.then(() => to.end()));
      from.on('error', end);
    };
    pipe(client, upstream, true);
    pipe(upstream, client, false);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  proxy.port = (server.address() as net.AddressInfo).port;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return proxy;
}
