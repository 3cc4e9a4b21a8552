// Loaded with `--import` into the demo by sigint-repeat.test.ts. Node needs a few hundred
// milliseconds on a loaded machine before any of the demo's code runs, and a SIGINT in that time
// ends Node by its default action, which tests nothing of the demo. This file only tells the test
// when the CLI's own SIGINT handler is in place, by creating the file the test watches; it changes
// nothing else.
import { writeFileSync } from 'node:fs';

const readyFile = process.env.KAYGRAPH_TEST_SIGINT_READY;

if (readyFile) {
  const onListener = (event) => {
    if (event !== 'SIGINT') return;
    process.off('newListener', onListener);
    // 'newListener' comes before the listener is added; a microtask runs after it is.
    queueMicrotask(() => writeFileSync(readyFile, `${process.pid}\n`));
  };
  process.on('newListener', onListener);
}
