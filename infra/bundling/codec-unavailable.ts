/**
 * Stands in for `avro-js` and `protobufjs` in the function bundles. Powertools' Kafka consumer
 * (2.35.0) imports its Avro and Protobuf deserializers with literal dynamic imports, so esbuild
 * follows them into those two packages even for a JSON-only consumer, and fails without them
 * (aws-powertools/powertools-lambda-typescript#5557, fixed by #5578, not released yet). The
 * merge reads JSON only: the deserializers are never loaded, and this module fails loudly if
 * they ever are. Remove the aliases once a release with the fix is installed.
 */
const unavailable = (codec: string): never => {
  throw new Error(`${codec} is not bundled: the merge reads JSON values only`);
};

export default {
  parse: () => unavailable('avro-js'),
};

export class BufferReader {
  constructor() {
    unavailable('protobufjs');
  }
}
