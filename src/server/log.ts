// Structured logs: one JSON object per line on stdout (info/debug) or stderr (warn/error), so a
// process supervisor or log shipper can parse them without guessing.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export type LogSink = (level: LogLevel, line: string) => void;

const defaultSink: LogSink = (level, line) => {
  if (RANK[level] >= RANK.warn) process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
};

function errorFields(v: unknown): unknown {
  if (v instanceof Error) {
    const code = (v as { code?: unknown }).code;
    return { name: v.name, message: v.message, ...(code === undefined ? {} : { code }) };
  }
  return v;
}

export function createLogger(
  level: LogLevel = 'info',
  sink: LogSink = defaultSink,
  base: Record<string, unknown> = {},
): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < min) return;
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg, ...base };
    if (fields !== undefined) for (const [k, v] of Object.entries(fields)) rec[k] = errorFields(v);
    let line: string;
    try {
      line = JSON.stringify(rec);
    } catch {
      line = JSON.stringify({ time: rec['time'], level: lvl, msg, note: 'unserialisable fields' });
    }
    sink(lvl, line);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(level, sink, { ...base, ...fields }),
  };
}

/** A logger that drops everything (tests and benchmarks). */
export const silentLogger: Logger = createLogger('error', () => {});

/**
 * RELAY-19: a logger whose info lines are limited to `perWindow` per `windowMs` (shared
 * by every child), so garbage from the network cannot fill the disk through the log. What is
 * dropped is counted and reported in one line when the next window opens. Warnings and errors
 * (the relay's own failures) always pass.
 */
export function throttledLogger(
  inner: Logger,
  perWindow = 50,
  windowMs = 60_000,
  nowMs: () => number = Date.now,
): Logger {
  const state = { start: nowMs(), used: 0, dropped: 0 };
  const admit = (): boolean => {
    const now = nowMs();
    if (now - state.start >= windowMs) {
      if (state.dropped > 0) inner.warn('log lines suppressed', { dropped: state.dropped, windowMs });
      state.start = now;
      state.used = 0;
      state.dropped = 0;
    }
    if (state.used < perWindow) {
      state.used++;
      return true;
    }
    state.dropped++;
    return false;
  };
  const wrap = (l: Logger): Logger => ({
    debug: (m, f) => l.debug(m, f),
    info: (m, f) => {
      if (admit()) l.info(m, f);
    },
    warn: (m, f) => l.warn(m, f),
    error: (m, f) => l.error(m, f),
    child: (fields) => wrap(l.child(fields)),
  });
  return wrap(inner);
}
