import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A database of a test's own on the real server, dropped (connections and all) at the end. */
export interface ScratchDatabase {
  name: string;
  url: string;
  /** Connected to the server's own database, for looking at pg_stat_activity and the like. */
  admin: pg.Client;
  drop(): Promise<void>;
}

/**
 * Create `<prefix>_<random>` next to the database `serverUrl` names, filled by `pgbench -i` at
 * scale 1 (pgbench_accounts: 100,000 rows with a primary key).
 */
export async function pgbenchDatabase(serverUrl: string, prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const parsed = new URL(serverUrl);
  parsed.pathname = `/${name}`;
  const url = parsed.toString();
  await run('pgbench', ['-i', '-s', '1', '-q', url]);
  return {
    name,
    url,
    admin,
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
