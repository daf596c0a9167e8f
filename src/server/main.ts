// Composition root of the relay process: configuration, logger, start, graceful shutdown on
// SIGTERM/SIGINT (in-flight writes finish before the database closes; RELAY-5).

import { ConfigError, loadConfig, usage } from './config.ts';
import { createLogger } from './log.ts';
import { startRelay } from './start.ts';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
    return;
  }
  let cfg: ReturnType<typeof loadConfig>;
  try {
    cfg = loadConfig(argv, process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(cfg.logLevel);
  const running = await startRelay(cfg, { log });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    // A hard deadline: a wedged peer must not keep the process alive forever.
    setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, 15_000).unref();
    running.close().then(
      // Exit once the last log lines are written (stdout to a pipe is asynchronous).
      () => process.stdout.write('', () => process.exit(0)),
      (e: unknown) => {
        log.error('shutdown failed', { err: e });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (e) => {
    // Logged, then a clean stop: every acknowledged op is already durable.
    log.error('uncaught exception', { err: e });
    stop('uncaughtException');
  });
}

main().catch((e: unknown) => {
  console.error(
    JSON.stringify({
      time: new Date().toISOString(),
      level: 'error',
      msg: 'relay failed to start',
      err: String(e),
    }),
  );
  process.exit(1);
});
