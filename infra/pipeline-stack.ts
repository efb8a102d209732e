import { CfnOutput, Duration, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import { type IFunction, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import {
  ManagedKafkaEventSource,
  SqsDlq,
  SqsEventSource,
} from 'aws-cdk-lib/aws-lambda-event-sources';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { SOURCES, TOPICS } from '../shared/sources/registry.ts';
import type { PipelineConfig } from './config.ts';
import { Cache } from './constructs/cache.ts';
import { Network } from './constructs/network.ts';
import { Observability } from './constructs/observability.ts';
import { PipelineFunction } from './constructs/pipeline-function.ts';
import { Streaming } from './constructs/streaming.ts';
import { logGroupName } from './naming.ts';

export type PipelineStackProps = StackProps & { config: PipelineConfig };

/**
 * The pipeline on AWS: VPC, MSK Serverless, Valkey, one scheduled fetch function per source,
 * the merge function behind one MSK event source mapping per source topic, the dead-letter
 * queue with its replay function, and the observability around them.
 */
export class PipelineStack extends Stack {
  /** Functions invoked by a scheduler or a custom resource provider (for the nag acknowledgements). */
  readonly invokedFunctions: IFunction[];

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const name = (suffix: string) => `${config.stage}-pipeline-${suffix}`;
    Tags.of(this).add('pipeline:stage', config.stage);

    const network = new Network(this, 'Network', { logRetention: config.logRetention });
    const sourceTopics = Object.values(SOURCES).map((source) => source.topic);
    const streaming = new Streaming(this, 'Streaming', {
      vpc: network.vpc,
      kafkaSg: network.kafkaSg,
      adminSg: network.adminSg,
      logRetention: config.logRetention,
      adminLogGroupName: logGroupName(config.stage, 'topic-admin'),
      clusterName: name('msk'),
      topics: [
        ...sourceTopics.map((topic) => ({ name: topic, partitions: config.sourceTopicPartitions })),
        { name: TOPICS.quarantine, partitions: 1 },
        { name: TOPICS.deadLetter, partitions: 1 },
      ],
    });
    const cache = new Cache(this, 'Cache', {
      vpc: network.vpc,
      securityGroup: network.cacheSg,
      nodes: config.cacheNodes,
      nodeType: config.cacheNodeType,
    });
    const kafkaEnv = {
      KAFKA_BROKERS: streaming.bootstrapBrokers,
      KAFKA_AUTH: 'iam',
      LOG_LEVEL: 'INFO',
    };

    const fetchers = Object.values(SOURCES).map((source) => {
      const token = new Secret(this, `${source.name}Token`, {
        description: `API token of the ${source.name} source ({"token": …})`,
      });
      const fetcher = new PipelineFunction(this, `Fetch-${source.name}`, {
        entry: 'functions/fetch/index.ts',
        description: `Fetches ${source.path} from ${source.name} and publishes to ${source.topic}`,
        vpc: network.vpc,
        securityGroup: network.fetchSg,
        logRetention: config.logRetention,
        logGroupName: logGroupName(config.stage, `fetch-${source.name}`),
        timeout: Duration.minutes(5),
        // One run at a time per source: overlapping runs would only publish the same records twice.
        reservedConcurrency: 1,
        environment: {
          ...kafkaEnv,
          SOURCE: source.name,
          SOURCE_BASE_URL: config.sourceBaseUrls[source.name] ?? '',
        },
      }).bindSecret('SOURCE_TOKEN_SECRET_ARN', token);
      fetcher.fn.node.addDependency(streaming.topicsResource);
      streaming.grantWrite(fetcher.fn, [source.topic, TOPICS.quarantine]);
      new Schedule(this, `Schedule-${source.name}`, {
        description: `Fetch ${source.name} every ${config.fetchRateMinutes} min`,
        schedule: ScheduleExpression.rate(Duration.minutes(config.fetchRateMinutes)),
        target: new LambdaInvoke(fetcher.fn, { retryAttempts: 0 }),
      });
      new CfnOutput(this, `${source.name}TokenSecretArn`, {
        value: token.secretArn,
        description: `Put {"token": "…"} for the ${source.name} API here`,
      });
      return { source, fetcher };
    });

    const deadLetters = new Queue(this, 'DeadLetterQueue', {
      queueName: name('dead-letters'),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      visibilityTimeout: Duration.minutes(6),
    });
    const failedBatches = new Queue(this, 'FailedBatchQueue', {
      queueName: name('failed-batches'),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const analyticsToken = new Secret(this, 'AnalyticsToken', {
      description: 'API token of the Analytics API ({"token": …})',
    });
    const mergeEnv = {
      ...kafkaEnv,
      REDIS_URL: cache.url,
      ANALYTICS_URL: config.analyticsUrl,
      DEAD_LETTER_TARGET: 'sqs',
      DEAD_LETTER_QUEUE_URL: deadLetters.queueUrl,
    };
    const merge = new PipelineFunction(this, 'Merge', {
      entry: 'functions/merge/index.ts',
      description: 'Joins customers and products by id and delivers them to Analytics once',
      vpc: network.vpc,
      securityGroup: network.mergeSg,
      logRetention: config.logRetention,
      logGroupName: logGroupName(config.stage, 'merge'),
      timeout: Duration.minutes(5),
      memorySize: 1024,
      environment: mergeEnv,
    })
      .bindSecret('REDIS_AUTH_SECRET_ARN', cache.authSecret)
      .bindSecret('ANALYTICS_TOKEN_SECRET_ARN', analyticsToken);
    deadLetters.grantSendMessages(merge.fn);
    streaming.grantWrite(merge.fn, [TOPICS.quarantine]);
    const groups = sourceTopics.map((topic) => `${name('merge')}-${topic}`);
    streaming.grantConsume(merge.fn, sourceTopics, groups);
    sourceTopics.forEach((topic, index) => {
      merge.fn.addEventSource(
        new ManagedKafkaEventSource({
          clusterArn: streaming.clusterArn,
          topic,
          consumerGroupId: groups[index],
          batchSize: config.mergeBatchSize,
          maxBatchingWindow: Duration.seconds(config.mergeBatchingWindowSeconds),
          startingPosition: StartingPosition.TRIM_HORIZON,
          retryAttempts: config.mergeRetryAttempts,
          onFailure: new SqsDlq(failedBatches),
          provisionedPollerConfig: { minimumPollers: 1, maximumPollers: config.mergeMaxPollers },
        }),
      );
    });
    merge.fn.node.addDependency(streaming.topicsResource);

    const replay = new PipelineFunction(this, 'Replay', {
      entry: 'functions/replay/index.ts',
      description:
        'Re-delivers dead letters to Analytics (enable its SQS trigger to drain the queue)',
      vpc: network.vpc,
      securityGroup: network.mergeSg,
      logRetention: config.logRetention,
      logGroupName: logGroupName(config.stage, 'replay'),
      timeout: Duration.minutes(5),
      reservedConcurrency: 2,
      environment: mergeEnv,
    })
      .bindSecret('REDIS_AUTH_SECRET_ARN', cache.authSecret)
      .bindSecret('ANALYTICS_TOKEN_SECRET_ARN', analyticsToken);
    replay.fn.addEventSource(
      new SqsEventSource(deadLetters, {
        enabled: false,
        batchSize: 10,
        reportBatchItemFailures: true,
      }),
    );

    new Observability(this, 'Observability', {
      stage: config.stage,
      fetchers: fetchers.map(({ source, fetcher }) => ({
        source: source.name,
        fn: fetcher.fn,
        logGroup: fetcher.logGroup,
      })),
      merge: merge.fn,
      mergeLogGroup: merge.logGroup,
      deadLetters,
      failedBatches,
      config,
    });

    this.invokedFunctions = [streaming.topicAdmin, ...fetchers.map(({ fetcher }) => fetcher.fn)];

    new CfnOutput(this, 'AnalyticsTokenSecretArn', {
      value: analyticsToken.secretArn,
      description: 'Put {"token": "…"} for the Analytics API here',
    });
    new CfnOutput(this, 'BootstrapBrokers', { value: streaming.bootstrapBrokers });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: deadLetters.queueUrl });
    new CfnOutput(this, 'ReplayFunctionName', { value: replay.fn.functionName });
    new CfnOutput(this, 'MergeFunctionName', { value: merge.fn.functionName });
    for (const { source, fetcher } of fetchers)
      new CfnOutput(this, `Fetch${source.name}FunctionName`, { value: fetcher.fn.functionName });
  }
}
