import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SINK = fileURLToPath(new URL('./sink-server.js', import.meta.url));

/** Start sink-server.js as a child. Resolves `{ url, close() }`; close ends the child. */
export async function startSink() {
  const child = spawn(process.execPath, [SINK], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout });
  const [first] = await Promise.race([
    once(lines, 'line'),
    exited.then(([code]) => {
      throw new Error(`sink server exited with ${code} before listening`);
    }),
  ]);
  lines.close();
  const { url } = JSON.parse(first);
  return {
    url,
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}
