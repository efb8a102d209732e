import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { spawnDetached } from '../../local/detached-child.ts';

// Starts `sleep 300` with spawnDetached, prints its group, then on a line from stdin: "exit"
// ends this process normally, "stop" stops the child and says so. Anything else: it waits (the
// test kills it). With --survive-sigint it outlives a Ctrl-C as the local runner does (to print
// its summary), and says {"sigint":true} when one arrives. With --deaf-to-term the child is a
// Node process that ignores SIGTERM, as a broker hung on its way out would; its group is printed
// once it says it ignores the TERM.
const deaf = process.argv.includes('--deaf-to-term');
const child = deaf
  ? spawnDetached(process.execPath, [
      '-e',
      "process.on('SIGTERM', () => {}); console.log('deaf'); setInterval(() => {}, 1000)",
    ])
  : spawnDetached('sleep', ['300']);
if (deaf) await once(child.process.stdout as NodeJS.ReadableStream, 'data');
if (process.argv.includes('--survive-sigint'))
  process.on('SIGINT', () => process.stdout.write(`${JSON.stringify({ sigint: true })}\n`));
process.stdout.write(`${JSON.stringify({ group: child.group })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'exit') process.exit(0);
  if (line === 'stop') {
    await child.stop();
    process.stdout.write(
      `${JSON.stringify({ stopped: true, signal: child.process.signalCode, code: child.process.exitCode })}\n`,
    );
  }
}
