// One process of a clustered outbox, for the SIGKILL takeover test: an Outbox on a
// PgOutboxStore that sends the first `before` files of its attempt for real, prints what was
// acknowledged as a JSON line, then hangs (its lease still renewed) until it is killed.
// Run: node --import tsx test/helpers/outbox-worker.ts '<json WorkerArgs>'
import winston from 'winston';
import { openDb } from '../../src/cluster/db.js';
import { PgOutboxStore } from '../../src/cluster/pg-outbox-store.js';
import { sendFiles } from '../../src/send/destination.js';
import { Outbox, type OutboxDestination } from '../../src/send/outbox.js';

export interface WorkerArgs {
  url: string;
  destination: OutboxDestination;
  leaseMs: number;
  before: number;
}

const args = JSON.parse(process.argv[2]) as WorkerArgs;
const log = winston.createLogger({ silent: true });
const outbox = new Outbox({
  store: new PgOutboxStore(openDb(args.url, log)),
  destinations: [args.destination],
  leaseMs: args.leaseMs,
  pollMs: 50,
  log,
  send: async (d, files) => {
    const results = await sendFiles(d, files.slice(0, args.before));
    process.stdout.write(`${JSON.stringify({ acknowledged: results.filter((r) => r.ok).map((r) => r.file) })}\n`);
    return new Promise(() => undefined);
  },
});
outbox.start();
setInterval(() => undefined, 60_000); // the worker's timers are unref'd: this keeps the process up while it hangs
