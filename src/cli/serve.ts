// `interslice serve`: load and validate the configuration, start the node, stop cleanly on
// SIGINT/SIGTERM.
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { createLogger } from '../core/log.js';
import { join } from 'node:path';
import { startNode, type Role } from '../pipeline/node.js';
import { ALL_ROLES } from '../core/roles.js';
import { metrics } from '../admin/metrics.js';
import { startAdminServer } from '../admin/server.js';
import { fromRunningNode } from '../admin/node-view.js';
import { checkDestination, outboxDestination } from '../send/destination.js';
import { createServeModels, reloadOnSignal } from '../interpolate/engine/serve-model.js';
import { fault } from '../core/failpoints.js';
import { startAudit, type AuditTrail } from '../audit/index.js';

export async function serve(opts: { config: string; roles: Role[] }): Promise<void> {
  let loaded;
  try {
    // The default file missing is fine (embedded defaults); a named file missing is an error.
    loaded = loadConfig(configPath(opts.config));
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `configuration: ${(e as Error).message}`);
    process.exit(2);
  }
  const { config, source, envOverrides } = loaded;
  const log = createLogger({ level: config.log.level, file: config.log.file ?? undefined });
  log.info('configuration loaded', { source, envOverrides });
  const roles = opts.roles;
  if (config.cluster.database === null && roles.length < ALL_ROLES.length) {
    // One process cannot hand work to another without the shared database.
    console.error(`--roles ${roles.join(',')} needs cluster.database (a postgres:// URL); without it one process has every role`);
    process.exit(2);
  }
  // Clustered, one scrape target per process: its metrics say which roles it has (embedded: unchanged).
  if (config.cluster.database) metrics.setDefaultLabels({ role: roles.join(',') });
  let node;
  let models: Awaited<ReturnType<typeof createServeModels>> | undefined;
  let audit: AuditTrail;
  try {
    audit = startAudit(config, log);
    audit.record({ kind: 'application', action: 'start' });
    audit.record({
      kind: 'security', alert: 'software-configuration', outcome: 0, subject: source,
      description: `configuration loaded from ${source}${envOverrides.length ? `; environment overrides: ${envOverrides.join(', ')}` : ''}`,
    });
    // The models sit behind reloadable holders (SIGHUP reloads them); classical: startNode builds its own.
    // A receiver or sender never interpolates: it loads no model.
    models = roles.includes('process') ? await createServeModels(config, log) : undefined;
    const reloadable = models;
    // Installed before the node starts, so a SIGHUP never meets the default action (exit).
    const trail = audit;
    const reloaded = (ok: boolean, subject: string, description: string) =>
      trail.record({ kind: 'security', alert: 'software-configuration', outcome: ok ? 0 : 8, subject, description });
    process.on('SIGHUP', () =>
      void reloadOnSignal(reloadable, opts.config, log).then(
        (rs) => rs.forEach((r) => reloaded(r.ok, r.path, r.ok ? `SIGHUP: ${r.key} reloaded: ${r.description}` : `SIGHUP: ${r.key} reload failed: ${r.reason}`)),
        (e) => {
          log.error('model reload failed', { error: (e as Error).message });
          reloaded(false, config.pipeline.modelPath, `SIGHUP: model reload failed: ${(e as Error).message}`);
        },
      ),
    );
    node = await startNode(config, log, models, audit, roles);
  } catch (e) {
    log.error('start-up failed', { error: (e as Error).message });
    process.exit(1);
  }
  let admin: Awaited<ReturnType<typeof startAdminServer>> | undefined;
  if (config.admin.enabled) {
    const running = node;
    admin = await startAdminServer({
      host: config.admin.host,
      port: config.admin.port,
      token: config.admin.token,
      node: fromRunningNode(running, {
        // Without the receive role there is no listener to be up.
        listenerUp: () => !roles.includes('receive') || running.listening(),
        ...(running.db ? { databaseUp: () => running.db!.ping() } : {}),
        adaptation: () => running.adaptation(),
        // startNode has already loaded (and checked) the interpolator, model included.
        modelLoaded: () => true,
        destinations: config.destinations.map((d) => d.name),
        echo: async (name) => {
          const d = config.destinations.find((x) => x.name === name)!;
          const r = await checkDestination(outboxDestination(d, config));
          if (!r.ok) throw new Error(r.error);
        },
      }),
      renderDir: join(config.storage.dir, 'admin', 'pictures'),
      log: log.child({ stage: 'admin' }),
    });
    log.info('admin endpoint started', { host: config.admin.host, port: admin.port, token: config.admin.token ? 'required' : 'none' });
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    await admin?.close();
    await node.stop();
    audit.record({ kind: 'application', action: 'stop' });
    await audit.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // After an uncaught exception the process state is unknown: log it and end with a non-zero
  // code, so the supervisor (systemd, Docker, Kubernetes) restarts the node and start-up
  // recovery resumes the work from the durable spool, queue and outbox. Nothing acknowledged is
  // lost: every instance is on disk before its success status goes back.
  const fatal = (kind: string, e: unknown) => {
    log.error(kind, { event: 'fatal', error: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined });
    // Give the log transports a moment to write, then exit however far they got.
    setTimeout(() => process.exit(70), 200).unref();
    process.exitCode = 70;
  };
  process.on('uncaughtException', (e) => fatal('uncaught exception; exiting for the supervisor to restart', e));
  process.on('unhandledRejection', (e) => fatal('unhandled rejection; exiting for the supervisor to restart', e));
  try {
    fault('uncaught-exception');
  } catch (e) {
    setImmediate(() => {
      throw e;
    });
  }
}
