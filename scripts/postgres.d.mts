// Types of scripts/postgres.mjs for the TypeScript tests and benchmarks that start a server.
export interface TestPostgres {
  /** Connection URL (unix socket in `dir`, superuser `ledgerday`, database `postgres`). */
  url: string;
  dir: string;
  start(): void;
  stop(mode?: 'smart' | 'fast' | 'immediate'): void;
  destroy(): void;
}
export function findPostgres(): string | undefined;
export function ensurePostgres(): string;
export function startPostgres(opts?: { fsync?: boolean }): TestPostgres;
