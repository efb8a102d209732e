import { readFileSync } from 'node:fs';

/**
 * The AWS-produced shapes kept as JSON beside this file, each copied from the AWS
 * documentation page test/events/SOURCES.md names for it.
 */
export const AWS_FIXTURES = {
  /** https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html */
  kafkaOnFailure: 'msk-on-failure-kafka.json',
  /** https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html (Example event) */
  mskEvent: 'msk-event-aws-doc.json',
  /** https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html */
  kafkaPartialBatchResponse: 'kafka-partial-batch-response.json',
  /** https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html */
  asyncOnFailureRecord: 'lambda-async-on-failure-record.json',
  /** https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (Example standard queue message event) */
  sqsEvent: 'sqs-event.json',
} as const;

/** A fresh copy of a fixture file of this folder (each test may change its copy). */
export function loadEvent<T>(file: string): T {
  return structuredClone(
    JSON.parse(readFileSync(new URL(`./${file}`, import.meta.url), 'utf8')) as T,
  );
}
