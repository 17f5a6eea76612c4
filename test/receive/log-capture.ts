// A winston logger that keeps every line it is given as a parsed JSON object, for tests that
// check what the listener logs.
import { Writable } from 'node:stream';
import winston from 'winston';

export function captureLog(): { log: winston.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk, _e, cb) {
            lines.push(JSON.parse(String(chunk)));
            cb();
          },
        }),
      }),
    ],
  });
  return { log, lines };
}
