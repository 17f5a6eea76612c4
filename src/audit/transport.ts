// Syslog transports for audit messages: RFC 5425 (TLS, octet-counting framing) and RFC 5426
// (UDP, one message per datagram). TLS follows the node's BCP 195 profile (core/tls-profile).
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { bcp195Options, type TlsMaterial } from '../core/tls-profile.js';
import { octetFrame } from './messages.js';

export interface SyslogTransport {
  /** Resolves once the message is handed to the network; rejects when the collector is unreachable. */
  send(msg: string): Promise<void>;
  close(): void;
}

export function tlsTransport(host: string, port: number, material: TlsMaterial, connectMs = 5000): SyslogTransport {
  let socket: tls.TLSSocket | undefined;
  const connect = () =>
    new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        ...bcp195Options(material),
        host,
        port,
        servername: isIP(host) ? undefined : host,
        rejectUnauthorized: true,
      });
      const timer = setTimeout(() => s.destroy(new Error(`TLS connect to ${host}:${port} timed out`)), connectMs);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      // The collector never writes back; a close means the next message needs a new connection.
      s.on('close', () => {
        if (socket === s) socket = undefined;
      });
      s.on('error', () => {
        if (socket === s) socket = undefined;
      });
      s.resume();
    });
  return {
    async send(msg) {
      socket ??= await connect();
      const s = socket;
      await new Promise<void>((resolve, reject) => {
        s.write(octetFrame(msg), (e) => (e ? reject(e) : resolve()));
      });
    },
    close() {
      socket?.end();
      socket = undefined;
    },
  };
}

export function udpTransport(host: string, port: number): SyslogTransport {
  const sock = dgram.createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  sock.unref();
  return {
    send: (msg) => new Promise((resolve, reject) => sock.send(Buffer.from(msg, 'utf8'), port, host, (e) => (e ? reject(e) : resolve()))),
    close: () => sock.close(),
  };
}
