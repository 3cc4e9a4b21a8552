import { ConfigInvalidError } from '@kaygraph/core';
import { describe, expect, it } from 'vitest';
import { createMonitor } from '../src/index.js';

const resources = { list: () => [] };

describe('createMonitor options', () => {
  it.each([
    ['no options', undefined],
    ['no resources', {}],
    ['resources without list()', { resources: {} }],
    ['an unknown option', { resources, healthInterval: 5 }],
    ['a negative health interval', { resources, healthIntervalMs: -1 }],
    ['a fractional health interval', { resources, healthIntervalMs: 1.5 }],
    ['an empty percentile window', { resources, percentileWindow: 0 }],
  ])('rejects %s with ConfigInvalidError', (_, options) => {
    expect(() => createMonitor(options as never)).toThrow(ConfigInvalidError);
  });

  it('accepts the defaults', async () => {
    const monitor = createMonitor({ resources });
    expect(monitor.snapshot().providers).toEqual({});
    await monitor.close();
  });
});
