#!/usr/bin/env node
// Lints every published package the way a registry user would meet it: publint checks the
// package.json against the files it ships, attw checks the types resolve under every module mode.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const packagesDir = join(root, 'packages');
let failed = 0;

for (const dir of readdirSync(packagesDir)) {
  const path = join(packagesDir, dir);
  const manifest = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'));
  if (manifest.private) continue;

  for (const [tool, args] of [
    ['publint', ['exec', 'publint', '--strict', path]],
    ['attw', ['exec', 'attw', '--pack', path, '--profile', 'esm-only', '--format', 'table-flipped']],
  ]) {
    try {
      execFileSync('pnpm', args, { cwd: root, stdio: 'pipe', encoding: 'utf8' });
      console.log(`ok    ${tool.padEnd(7)} ${manifest.name}`);
    } catch (error) {
      failed++;
      console.log(`FAIL  ${tool.padEnd(7)} ${manifest.name}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    }
  }
}

if (failed > 0) {
  console.log(`${failed} package check(s) failed`);
  process.exit(1);
}
