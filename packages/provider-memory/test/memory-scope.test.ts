import { ResourcePool } from '@kaygraph/core';
import { describe, expect, it } from 'vitest';
import { type MemoryAcquireOptions, createMemoryProvider } from '../src/index.js';

describe('with core ResourcePool and Scope', () => {
  it('a run scope returns the buffers it borrowed when it ends', async () => {
    const memory = createMemoryProvider({ name: 'memory-scoped' });
    const resources = new ResourcePool().add(memory);
    await resources.open();
    try {
      const scope = resources.scope('run-1');
      // Typed as the provider's options, which extend core's AcquireOptions that Scope takes.
      const options: MemoryAcquireOptions = { size: 1000 };
      const lease = await scope.acquire<Buffer>('memory-scoped', options);
      expect(lease.resource.length).toBe(4096);
      expect(memory.stats().bytesInUse).toBe(4096);

      await scope.close().catch(() => undefined); // the lease still out is reported as a leak
      expect(lease.returned).toBe(true);
      expect(memory.stats()).toMatchObject({ bytesInUse: 0, inUse: 0 });
    } finally {
      await resources.close();
    }
    expect(memory.state).toBe('closed');
  });
});
