#!/usr/bin/env node
// Lints every published package the way a registry user would meet it: each package is packed
// once with `pnpm pack` (workspace: ranges rewritten, `files` applied, as `pnpm publish` does),
// then publint checks the manifest against the files in that tarball and attw checks that the
// types resolve for ESM consumers (node16 and bundler resolution). Build first: `pnpm build`.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const packagesDir = join(root, 'packages');
const bin = (name) => join(root, 'node_modules', '.bin', name);
// Two at a time: packing and attw are CPU-bound, and CI machines have two cores.
const concurrency = 2;

const packages = readdirSync(packagesDir)
  .map((dir) => join(packagesDir, dir))
  .filter((path) => existsSync(join(path, 'package.json')))
  .map((path) => ({ path, manifest: JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => !manifest.private);

const out = mkdtempSync(join(tmpdir(), 'kaygraph-check-packages-'));
let failed = 0;

async function check({ path, manifest }) {
  const lines = [];
  const report = (ok, tool, detail = '') => {
    if (!ok) failed++;
    lines.push(`${ok ? 'ok  ' : 'FAIL'}  ${tool.padEnd(7)} ${manifest.name}${detail}`);
  };
  if (!existsSync(join(path, 'dist'))) {
    report(false, 'build', `\n  no dist/: run \`pnpm build\` first`);
    return lines.join('\n');
  }

  const into = mkdtempSync(join(out, 'pack-'));
  let tarball;
  try {
    await run('pnpm', ['pack', '--pack-destination', into], { cwd: path });
    tarball = join(into, readdirSync(into).find((file) => file.endsWith('.tgz')));
  } catch (error) {
    report(false, 'pack', `\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
    return lines.join('\n');
  }

  for (const [tool, command, args] of [
    ['publint', bin('publint'), ['run', tarball, '--strict']],
    ['attw', bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped']],
  ]) {
    try {
      await run(command, args, { cwd: root, encoding: 'utf8' });
      report(true, tool);
    } catch (error) {
      report(false, tool, `\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
    }
  }
  return lines.join('\n');
}

try {
  const queue = [...packages];
  const results = new Map();
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      results.set(next.manifest.name, await check(next));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  for (const { manifest } of packages) console.log(results.get(manifest.name));
} finally {
  rmSync(out, { recursive: true, force: true });
}

if (failed > 0) {
  console.log(`${failed} package check(s) failed`);
  process.exit(1);
}
console.log(`${packages.length} packages: publint and attw clean`);
