// A PostgreSQL server per test file (scripts/postgres.mjs: initdb + pg_ctl in a temporary folder,
// unprivileged, unix socket only) and a fresh database per test.

import pg from 'pg';
import { startPostgres, type TestPostgres } from '../../scripts/postgres.mjs';

export interface PgServer {
  server: TestPostgres;
  /** A new empty database on the server; returns its URL. */
  freshDatabase(): Promise<string>;
  close(): void;
}

let counter = 0;

export function databaseUrl(serverUrl: string, db: string): string {
  return serverUrl.replace('/postgres?', `/${db}?`);
}

export function startPgServer(opts: { fsync?: boolean } = {}): PgServer {
  const server = startPostgres({ fsync: opts.fsync ?? false });
  return {
    server,
    async freshDatabase() {
      const name = `t${process.pid}_${++counter}`;
      const c = new pg.Client({ connectionString: server.url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return databaseUrl(server.url, name);
    },
    close() {
      server.destroy();
    },
  };
}
