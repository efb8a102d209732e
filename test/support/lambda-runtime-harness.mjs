// Runs one bundled function the way the Lambda Node.js runtime does: import the handler module
// once (a cold start), then invoke it for each event sent over IPC with a Lambda-like context.
// Lives outside the task folder, so nothing beside the bundle can be resolved from it.
import { pathToFileURL } from 'node:url';

const [entry, handlerName] = process.argv.slice(2);
const serialize = (error) => ({
  name: error?.name ?? 'Error',
  message: error?.message ?? String(error),
  stack: error?.stack,
});

let handler;
try {
  const module = await import(pathToFileURL(entry).href);
  handler = module[handlerName];
  if (typeof handler !== 'function') throw new Error(`${entry} exports no function ${handlerName}`);
  process.send({ type: 'loaded' });
} catch (error) {
  process.send({ type: 'loaded', error: serialize(error) });
}

process.on('message', async ({ id, event, timeoutMs }) => {
  const deadline = Date.now() + timeoutMs;
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:000000000000:function:${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: id,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: 'artifact-test',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(event, context);
    process.send({ type: 'result', id, ok: true, result: result ?? null });
  } catch (error) {
    process.send({ type: 'result', id, ok: false, error: serialize(error) });
  }
});
