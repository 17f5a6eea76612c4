// `interslice serve`: load and validate the configuration, start the node, stop cleanly on
// SIGINT/SIGTERM.
import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config/load.js';
import { createLogger } from '../core/log.js';
import { startNode } from '../pipeline/node.js';

export async function serve(opts: { config: string }): Promise<void> {
  let loaded;
  try {
    // The default file missing is fine (embedded defaults); a named file missing is an error.
    const path = opts.config === 'config/default.yaml' && !existsSync(opts.config) ? undefined : opts.config;
    loaded = loadConfig(path);
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `configuration: ${(e as Error).message}`);
    process.exit(2);
  }
  const { config, source, envOverrides } = loaded;
  const log = createLogger({ level: config.log.level, file: config.log.file ?? undefined });
  log.info('configuration loaded', { source, envOverrides });
  let node;
  try {
    node = await startNode(config, log);
  } catch (e) {
    log.error('start-up failed', { error: (e as Error).message });
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    await node.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // A bug in one association or job must not take the node down: log it and carry on.
  process.on('uncaughtException', (e) => log.error('uncaught exception', { error: e.message, stack: e.stack }));
  process.on('unhandledRejection', (e) => log.error('unhandled rejection', { error: String(e) }));
}
