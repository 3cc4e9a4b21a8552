// Preloaded into the demo (`node --import`) by the monitor group, into both of its contenders:
// with KAYGRAPH_BENCH_MONITOR=off, `@kaygraph/monitor` resolves to a stand-in that subscribes to
// nothing (the demo has no switch of its own for this); otherwise it resolves as usual. Module
// hooks run on a thread of their own, which costs a little CPU at startup and on every import,
// so both contenders load the hook and only the stand-in differs between them.
import { register } from 'node:module';

register('./monitor-switch-hooks.js', import.meta.url, {
  data: { monitorOff: process.env.KAYGRAPH_BENCH_MONITOR === 'off' },
});
