import { parentPort } from 'node:worker_threads';
import { startEmbeddedPostgres } from '@kaygraph/provider-db/embedded';

/**
 * The embedded PostgreSQL's own thread. PGlite runs PostgreSQL as WebAssembly on the thread that
 * calls it, and its start-up (initdb) and every statement run there without yielding — for many
 * seconds on a busy machine. Here they block this thread only, so the demo's main thread still
 * hears Ctrl-C, and the main thread can end this one at any moment.
 *
 * Posts `{ connectionString }` once the server listens; on the message `'close'` it stops the
 * server and the database and ends. A failed start ends the thread with the error.
 */
const port = parentPort;
if (port === null) throw new Error('embedded-database-worker runs as a worker thread only');

const database = await startEmbeddedPostgres();
port.postMessage({ connectionString: database.connectionString });
port.once('message', async () => {
  await database.close().catch(() => {});
  port.close();
});
