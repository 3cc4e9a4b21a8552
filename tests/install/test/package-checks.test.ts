import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workspaceRoot } from './pack.js';

describe('scripts/check-packages.js', () => {
  it('finds publint --strict and attw (esm-only) clean on every published package', async () => {
    const result = await new Promise<{ code: number; output: string }>((done) => {
      execFile(
        process.execPath,
        [join(workspaceRoot, 'scripts/check-packages.js')],
        { cwd: workspaceRoot, encoding: 'utf8', timeout: 280_000 },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          done({ code, output: stdout + stderr });
        },
      );
    });

    expect(result.code, result.output).toBe(0);
    expect(result.output).not.toContain('FAIL');
    expect(result.output).toMatch(/^\d+ packages: publint and attw clean$/m);
  });
});
