import { createInterface } from 'node:readline';
import { spawnDetached } from '../../local/detached-child.ts';

// Starts `sleep 300` with spawnDetached, prints its group, then on a line from stdin: "exit"
// ends this process normally, "stop" stops the child and says so. Anything else: it waits (the
// test kills it).
const child = spawnDetached('sleep', ['300']);
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
