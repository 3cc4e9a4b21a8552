// Preloaded into the demo (`node --import`) to run it without its monitor: `@kaygraph/monitor`
// resolves to a stand-in that subscribes to nothing. The demo has no switch of its own for this.
import { register } from 'node:module';

register('./no-monitor-hooks.js', import.meta.url);
