import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Workspace, makeWorkspace, runCli } from './helpers/cli.js';

describe('--help', () => {
  let workspace: Workspace;

  beforeEach(async () => {
    workspace = await makeWorkspace();
  });

  afterEach(async () => {
    await workspace.remove();
  });

  it('shows number defaults as numbers', async () => {
    const result = await runCli(['--help'], workspace);

    expect(result.code).toBe(0);
    const help = result.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('rows per cursor read (default: 1000)');
    expect(help).toContain('rows per chunk file (default: 10000)');
    expect(help).toContain('uploads in flight (default: 4)');
    expect(help).not.toMatch(/default: "\d+"/);
  });
});
