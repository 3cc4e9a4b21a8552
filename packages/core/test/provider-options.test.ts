import { describe, expect, it } from 'vitest';
import { Graph, Node, type NodeContext, ResourcePool } from '../src/index.js';
import { TestProvider } from './support/test-provider.js';

/** A provider whose acquire takes an option of its own, as the file and memory providers do. */
class SizedProvider extends TestProvider {
  readonly sizes: unknown[] = [];

  override acquire(options: Parameters<TestProvider['acquire']>[0] & { size?: number } = {}) {
    this.sizes.push(options.size);
    return super.acquire(options);
  }
}

describe('provider-specific acquire options', () => {
  it('pass through a scope to the provider, next to the scope owner', async () => {
    const provider = new SizedProvider({ name: 'sized' });
    const resources = new ResourcePool().add(provider);
    await resources.open();
    const scope = resources.scope('s');

    const lease = await scope.acquire('sized', { size: 4096 });
    await lease.release();
    await scope.close();
    await resources.close();

    expect(provider.sizes).toEqual([4096]);
  });

  it('pass through ctx.acquire inside a node', async () => {
    const provider = new SizedProvider({ name: 'sized' });
    const resources = new ResourcePool().add(provider);
    await resources.open();

    class Borrow extends Node {
      override async exec(_input: unknown, ctx: NodeContext) {
        const lease = await ctx.acquire('sized', { size: 64 });
        await lease.release();
      }
    }
    const result = await new Graph(new Borrow()).run({}, { resources });
    await resources.close();

    expect(result.status).toBe('ok');
    expect(provider.sizes).toEqual([64]);
  });
});
