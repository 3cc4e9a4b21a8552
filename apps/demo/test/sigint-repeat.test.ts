import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackendObserver, observeDemoBackends } from '../src/chaos/demo-backends.js';
import { type ScratchDatabase, createScratchDatabase } from '../src/chaos/scratch-database.js';
import { type UploadReceiver, startUploadReceiver } from '../src/receiver.js';
import { seededRandom } from '../src/seeded-random.js';
import { type SmtpCapture, startSmtpCapture } from '../src/smtp-capture.js';
import {
  type CliProcess,
  type Workspace,
  makeWorkspace,
  readReport,
  spawnCli,
} from './helpers/cli.js';

const serverUrl = process.env.KAYGRAPH_TEST_PG_URL;
if (serverUrl === undefined) {
  console.log('sigint-repeat: skipped, KAYGRAPH_TEST_PG_URL is not set (no real PostgreSQL)');
}

const ROUNDS = 20;
/** Replay a failing schedule with `KAYGRAPH_SIGINT_SEED=<seed printed in the log>`. */
const SEED = Number(process.env.KAYGRAPH_SIGINT_SEED ?? 130);
const CHUNK_ROWS = 5000;
/** pgbench scale 1 in chunks of CHUNK_ROWS. */
const CHUNKS = 100_000 / CHUNK_ROWS;
const TOKEN = 'sigint-repeat-token';
const PRELOAD = fileURLToPath(new URL('./sigint-repeat.preload.mjs', import.meta.url));

/** Where in the run the interrupt lands; the rounds take them in turn. */
const PHASES = ['startup', 'reading', 'uploading', 'mailing'] as const;
type Phase = (typeof PHASES)[number];

describe.skipIf(serverUrl === undefined)('SIGINT at random points, twenty times in a row', () => {
  let database: ScratchDatabase;
  let observer: BackendObserver;
  let receiver: UploadReceiver;
  let smtp: SmtpCapture;
  let outboxHome: Workspace;

  beforeAll(async () => {
    database = await createScratchDatabase({
      serverUrl: serverUrl!,
      scale: 1,
      prefix: 'kaygraph_sigint',
    });
    observer = await observeDemoBackends(serverUrl!);
    receiver = await startUploadReceiver({ token: TOKEN });
    outboxHome = await makeWorkspace();
    // Down for the whole file: a run that reaches the summary mail keeps retrying it, so an
    // interrupt meant for the mailing phase finds the demo still there.
    smtp = await startSmtpCapture({ outbox: outboxHome.outbox, refuseForMs: 60 * 60_000 });
  }, 120_000);

  afterAll(async () => {
    await receiver?.close();
    await smtp?.close();
    await observer?.close();
    await outboxHome?.remove();
    await database?.drop();
  });

  it('exits 130 each time, temp files removed, no connection left, report ok:false', async () => {
    const random = seededRandom(SEED);
    console.log(`sigint-repeat: seed ${SEED}`);
    for (let round = 1; round <= ROUNDS; round += 1) {
      const phase = PHASES[(round - 1) % PHASES.length]!;
      const line = await interruptOnce(round, phase, random);
      console.log(`sigint-repeat: ${line}`);
    }
  }, 300_000);

  /** One run of the demo, interrupted in `phase`; asserts how it ended. */
  async function interruptOnce(round: number, phase: Phase, random: () => number) {
    const workspace = await makeWorkspace();
    const ready = join(workspace.root, 'sigint-ready');
    const storedBefore = receiver.stats().chunksStored;
    const cli = spawnCli(
      [
        ...['--db-url', database.url, '--table', 'pgbench_accounts'],
        ...['--api-url', receiver.url, '--api-token', TOKEN, '--smtp-url', smtp.url],
        ...['--chunk-rows', String(CHUNK_ROWS), '--report', workspace.report, '--quiet'],
      ],
      workspace,
      {
        NODE_OPTIONS: `--import ${pathToFileURL(PRELOAD).href}`,
        KAYGRAPH_TEST_SIGINT_READY: ready,
      },
    );
    const stored = () => receiver.stats().chunksStored - storedBefore;

    try {
      await until(cli, async () => existsSync(ready), 'the CLI to own SIGINT');
      const when = await reachPhase(cli, phase, random, stored);
      expect(running(cli), `round ${round}: the demo ended before ${when}`).toBe(true);
      cli.child.kill('SIGINT');
      const result = await cli.done;
      const what = `round ${round} (${phase}, SIGINT ${when})`;

      expect(result.code, `${what}: ${result.stderr}`).toBe(130);
      expect(result.stderr, what).toContain('interrupted by SIGINT');
      expect(await readdir(workspace.tmp), `${what}: temp root`).toEqual([]);
      expect(await observer.waitForNone(database.name), `${what}: backends left`).toBe(0);
      const reportLine = await checkReport(workspace, what);
      return `${what}: exit 130, ${stored()} of ${CHUNKS} chunks stored, ${reportLine}`;
    } finally {
      if (running(cli)) cli.child.kill('SIGKILL');
      await cli.done.catch(() => {});
      await workspace.remove();
    }
  }

  /** Wait for the moment `phase` names, then a seeded random while longer. */
  async function reachPhase(
    cli: CliProcess,
    phase: Phase,
    random: () => number,
    stored: () => number,
  ): Promise<string> {
    if (phase === 'startup') {
      return after(random() * 600, 'after the CLI owned SIGINT');
    }
    if (phase === 'reading') {
      await until(cli, async () => (await observer.count(database.name)) > 0, 'a backend');
      return after(random() * 300, 'after its first backend appeared');
    }
    if (phase === 'uploading') {
      const chunks = 1 + Math.floor(random() * (CHUNKS - 2));
      await until(cli, async () => stored() >= chunks, `${chunks} chunks stored`);
      return after(random() * 100, `after ${chunks} chunks were stored`);
    }
    await until(cli, async () => stored() >= CHUNKS, 'every chunk stored');
    return after(random() * 1500, 'after every chunk was stored, while mailing');
  }
});

async function after(ms: number, anchor: string): Promise<string> {
  await delay(ms);
  return `${Math.round(ms)} ms ${anchor}`;
}

function running(cli: CliProcess): boolean {
  return cli.child.exitCode === null && cli.child.signalCode === null;
}

/** Poll `check` until it holds; fails at once if the demo ended first, and after 60 s. */
async function until(cli: CliProcess, check: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (!running(cli)) {
      throw new Error(`the demo ended while waiting for ${what}: ${cli.output().stderr}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** The report is written however the run ends, and says this one did not succeed. */
async function checkReport(workspace: Workspace, what: string): Promise<string> {
  expect(existsSync(workspace.report), `${what}: report written`).toBe(true);
  const report = await readReport(workspace);
  expect(report.ok, `${what}: report`).toBe(false);
  expect(report.tempFilesLeft, `${what}: report temp files`).toBe(0);
  for (const [name, stats] of Object.entries(report.resources)) {
    expect(stats.inUse, `${what}: ${name} in use`).toBe(0);
    expect(stats.leaks, `${what}: ${name} leaks`).toBe(0);
  }
  return `report ok:false (${report.rows.read} rows read)`;
}
