import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import { type IFunction, MetricType, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { KafkaDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BROKER_DEFAULT_REPLICATION } from '../shared/adapters/kafka-topics.ts';
import type {
  AdminEnvironment,
  FetchEnvironment,
  MergeEnvironment,
  ReplayEnvironment,
} from '../shared/config.ts';
import { failedTopicOf } from '../shared/domain/failed-batch.ts';
import type { MissingSidePolicy } from '../shared/sources/join.ts';
import { SOURCES, TOPICS } from '../shared/sources/registry.ts';
import type { DeployConfig } from './config.ts';
import { Cache, composeCache, type JoinStateCache } from './constructs/cache.ts';
import {
  describeShape,
  existingSecret,
  sourceSecretShape,
} from './constructs/credential-secrets.ts';
import { scheduleFetch } from './constructs/fetch-schedule.ts';
import type { KafkaCluster, TopicAdminProps } from './constructs/kafka-cluster.ts';
import { Network } from './constructs/network.ts';
import { Observability } from './constructs/observability.ts';
import { PipelineFunction } from './constructs/pipeline-function.ts';
import { SelfManagedKafka } from './constructs/self-managed-kafka.ts';
import { Streaming } from './constructs/streaming.ts';
import { LOCALSTACK_ENDPOINTS, LOCALSTACK_REGION } from './localstack.ts';
import { logGroupName } from './naming.ts';

export type PipelineStackProps = StackProps & { config: DeployConfig };

const REPLAY_TIMEOUT_MINUTES = 5;
const REDRIVE_TIMEOUT_MINUTES = 15;
/** The consumer group of the redrive function (functions/redrive/handler.ts, no topic prefix on AWS). */
const REDRIVE_GROUP = 'redrive';

/**
 * The pipeline on AWS: VPC, MSK Serverless, Valkey, one scheduled fetch function per source,
 * the merge function behind one MSK event source mapping per source topic, the dead-letter
 * queue with its replay function, and the observability around them. With the `localstack`
 * target, the same functions, mappings, queues, secrets and alarms around the broker and
 * Valkey containers of docker-compose.localstack.yml (infra/localstack.ts).
 */
export class PipelineStack extends Stack {
  /** Functions invoked by a scheduler or a custom resource provider (for the nag acknowledgements). */
  readonly invokedFunctions: IFunction[];

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const name = (suffix: string) => `${config.stage}-pipeline-${suffix}`;
    Tags.of(this).add('pipeline:stage', config.stage);
    const dataRemoval = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const localstack = config.target === 'localstack';

    const network = new Network(this, 'Network', {
      logRetention: config.logRetention,
      ...(localstack && {
        flowLogs: false,
        availabilityZones: [`${LOCALSTACK_REGION}a`, `${LOCALSTACK_REGION}b`],
      }),
    });
    const sourceTopics = Object.values(SOURCES).map((source) => source.topic);
    // Where each mapping sends a batch it gave up on: a topic of the same cluster, records and all.
    const failedTopics = sourceTopics.map(failedTopicOf);
    const topicAdmin: TopicAdminProps = {
      vpc: network.vpc,
      adminSg: network.adminSg,
      logRetention: config.logRetention,
      adminLogGroupName: logGroupName(config.stage, 'topic-admin'),
      providerLogGroupName: logGroupName(config.stage, 'topic-provider'),
      // MSK Serverless fixes replication at 3 and takes only -1; the compose broker is one node.
      replicationFactor: localstack ? 1 : BROKER_DEFAULT_REPLICATION,
      topics: [
        ...sourceTopics.map((topic) => ({ topic, numPartitions: config.sourceTopicPartitions })),
        { topic: TOPICS.quarantine, numPartitions: 1 },
        { topic: TOPICS.deadLetter, numPartitions: 1 },
        ...failedTopics.map((topic) => ({ topic, numPartitions: 1 })),
      ],
    };
    const streaming: KafkaCluster = localstack
      ? new SelfManagedKafka(this, 'Streaming', {
          ...topicAdmin,
          bootstrapServers: LOCALSTACK_ENDPOINTS.kafkaBootstrapServers,
        })
      : new Streaming(this, 'Streaming', {
          ...topicAdmin,
          kafkaSg: network.kafkaSg,
          clusterName: name('msk'),
          removalPolicy: dataRemoval,
        });
    const cache: JoinStateCache = localstack
      ? composeCache(LOCALSTACK_ENDPOINTS.redisUrl)
      : new Cache(this, 'Cache', {
          vpc: network.vpc,
          securityGroup: network.cacheSg,
          nodes: config.cacheNodes,
          nodeType: config.cacheNodeType,
          removalPolicy: dataRemoval,
        });
    const kafkaEnv = {
      KAFKA_BROKERS: streaming.bootstrapBrokers,
      KAFKA_AUTH: streaming.auth,
      LOG_LEVEL: 'INFO',
    } satisfies AdminEnvironment;

    // Scheduled runs that failed (Lambda's on-failure destination) or that Scheduler could not
    // hand to Lambda (the schedule's dead-letter queue) land here, not in a silent retry.
    const missedRuns = new Queue(this, 'MissedFetchRuns', {
      queueName: name('missed-fetch-runs'),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: dataRemoval,
    });
    const fetchers = Object.values(SOURCES).map((source) => {
      const shape = sourceSecretShape(source);
      const secretArn = config.sourceSecretArns[source.name];
      if (shape && !secretArn)
        throw new Error(
          `source ${source.name} declares ${source.auth.type} auth: create a Secrets Manager secret holding ${describeShape(shape)} and pass its ARN as -c pipeline:${source.name}SecretArn=… (docs/deploy.md, step 2)`,
        );
      const secret =
        shape && secretArn ? existingSecret(this, `${source.name}Secret`, secretArn) : undefined;
      const fetcher = new PipelineFunction(this, `Fetch-${source.name}`, {
        entry: 'functions/fetch/index.ts',
        description: `Fetches ${source.path} from ${source.name} and publishes to ${source.topic}`,
        vpc: network.vpc,
        securityGroup: network.fetchSg,
        logRetention: config.logRetention,
        logGroupName: logGroupName(config.stage, `fetch-${source.name}`),
        timeout: Duration.minutes(5),
        ...(config.fetchReservedConcurrency !== undefined && {
          reservedConcurrency: config.fetchReservedConcurrency,
        }),
        environment: {
          ...kafkaEnv,
          SOURCE: source.name,
          SOURCE_BASE_URL: config.sourceBaseUrls[source.name] ?? '',
          // The per-source cursor, checkpoint and lease of incremental, resumable runs.
          REDIS_URL: cache.url,
        } satisfies FetchEnvironment,
      });
      bindCacheAuth(fetcher, cache);
      if (secret) fetcher.bindSecret('SOURCE_SECRET_ARN', secret);
      fetcher.fn.node.addDependency(streaming.topicsResource);
      streaming.grantWrite(fetcher.fn, [source.topic, TOPICS.quarantine]);
      // The next scheduled run starts where this one would have: no retry of a failed run,
      // neither by Scheduler nor by Lambda's own asynchronous retries (2 by default, up to 6 h).
      fetcher.fn.configureAsyncInvoke({
        retryAttempts: 0,
        onFailure: new SqsDestination(missedRuns),
      });
      scheduleFetch(this, `Schedule-${source.name}`, {
        target: config.target,
        fn: fetcher.fn,
        rateMinutes: config.fetchRateMinutes,
        description: `Fetch ${source.name} every ${config.fetchRateMinutes} min`,
        missedRuns,
      });
      return { source, fetcher };
    });

    const deadLetters = new Queue(this, 'DeadLetterQueue', {
      queueName: name('dead-letters'),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Six times the replay function's timeout, as Lambda advises for an SQS trigger.
      visibilityTimeout: Duration.minutes(REPLAY_TIMEOUT_MINUTES * 6),
      removalPolicy: dataRemoval,
    });
    const analyticsToken =
      config.analyticsTokenSecretArn === undefined
        ? undefined
        : existingSecret(this, 'AnalyticsToken', config.analyticsTokenSecretArn);
    // Where and how payloads are delivered once: the merge and the replay read the same.
    const deliveryEnv = {
      LOG_LEVEL: 'INFO',
      REDIS_URL: cache.url,
      ANALYTICS_URL: config.analyticsUrl,
      ...config.analyticsDelivery,
    } satisfies ReplayEnvironment;
    const mergeEnv = {
      ...kafkaEnv,
      ...deliveryEnv,
      DEAD_LETTER_TARGET: 'sqs',
      DEAD_LETTER_QUEUE_URL: deadLetters.queueUrl,
      ...(config.joinJson !== undefined && { PIPELINE_JOIN: config.joinJson }),
    } satisfies MergeEnvironment;
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
    });
    bindCacheAuth(merge, cache);
    if (analyticsToken) merge.bindSecret('ANALYTICS_TOKEN_SECRET_ARN', analyticsToken);
    deadLetters.grantSendMessages(merge.fn);
    // The mappings write failed batches with the function's role (Lambda is the producer).
    streaming.grantWrite(merge.fn, [TOPICS.quarantine, ...failedTopics]);
    const groups = sourceTopics.map((topic) => `${name('merge')}-${topic}`);
    streaming.grantConsume(merge.fn, sourceTopics, groups, { eventSourceMapping: true });
    // The mappings are written out rather than through ManagedKafkaEventSource, which would add
    // the AWSLambdaMSKExecutionRole managed policy (logs and kafka on "*") and kafka:ListScramSecrets
    // (SASL/SCRAM, not used here); grantConsume gives the same access scoped to this cluster.
    // On LocalStack they read the compose broker as a self-managed Kafka source.
    const mappings = sourceTopics.map((topic, index) =>
      merge.fn.addEventSourceMapping(`Mapping-${topic}`, {
        ...streaming.mappingSource(),
        kafkaTopic: topic,
        kafkaConsumerGroupId: groups[index],
        batchSize: config.mergeBatchSize,
        maxBatchingWindow: Duration.seconds(config.mergeBatchingWindowSeconds),
        startingPosition: StartingPosition.TRIM_HORIZON,
        retryAttempts: config.mergeRetryAttempts,
        // The records themselves, on failed_<topic> of the same cluster (an SQS or SNS
        // destination would get only their coordinates). docs/design.md argues the choice.
        onFailure: new KafkaDlq(failedTopicOf(topic)),
        // FunctionResponseTypes ReportBatchItemFailures: the merge answers with the records
        // whose payload another invocation holds, and Lambda retries each partition from its
        // lowest failed offset instead of the whole batch (docs/design.md).
        reportBatchItemFailures: true,
        // Provisioned mode: pollers in our VPC, billed while they run; both mappings share one
        // group of pollers, so the pair costs what one mapping would. LocalStack has none.
        ...(!localstack && {
          provisionedPollerConfig: {
            minimumPollers: 1,
            maximumPollers: config.mergeMaxPollers,
            pollerGroupName: name('merge-pollers'),
          },
          // OnFailureDestinationDeliveredEventCount and friends, for the failed-batch alarm.
          metricsConfig: { metrics: [MetricType.EVENT_COUNT] },
        }),
      }),
    );
    merge.fn.node.addDependency(streaming.topicsResource);

    const replay = new PipelineFunction(this, 'Replay', {
      entry: 'functions/replay/index.ts',
      description:
        'Re-delivers dead letters to Analytics (enable its SQS trigger to drain the queue)',
      vpc: network.vpc,
      securityGroup: network.mergeSg,
      logRetention: config.logRetention,
      logGroupName: logGroupName(config.stage, 'replay'),
      timeout: Duration.minutes(REPLAY_TIMEOUT_MINUTES),
      // Redis and Analytics only: the replay neither reads Kafka nor writes the queue it drains.
      environment: deliveryEnv,
    });
    bindCacheAuth(replay, cache);
    if (analyticsToken) replay.bindSecret('ANALYTICS_TOKEN_SECRET_ARN', analyticsToken);
    replay.fn.addEventSource(
      new SqsEventSource(deadLetters, {
        enabled: false,
        batchSize: 10,
        // At most two replays at once, without reserving any of the account's concurrency.
        maxConcurrency: 2,
        reportBatchItemFailures: true,
      }),
    );

    // Invoked by hand once Redis and Analytics are healthy: reads failed_<topic> as its own
    // consumer group and runs the records through the merge (docs/deploy.md).
    const redrive = new PipelineFunction(this, 'Redrive', {
      entry: 'functions/redrive/index.ts',
      description: 'Re-drives the batches the merge mappings gave up on (invoke it by hand)',
      vpc: network.vpc,
      securityGroup: network.mergeSg,
      logRetention: config.logRetention,
      logGroupName: logGroupName(config.stage, 'redrive'),
      timeout: Duration.minutes(REDRIVE_TIMEOUT_MINUTES),
      memorySize: 1024,
      environment: mergeEnv,
    });
    bindCacheAuth(redrive, cache);
    if (analyticsToken) redrive.bindSecret('ANALYTICS_TOKEN_SECRET_ARN', analyticsToken);
    deadLetters.grantSendMessages(redrive.fn);
    streaming.grantWrite(redrive.fn, [TOPICS.quarantine]);
    streaming.grantConsume(redrive.fn, failedTopics, [REDRIVE_GROUP]);
    redrive.fn.node.addDependency(streaming.topicsResource);

    // The join's sweeper, every minute: applies its missing-side policy (emit or drop after the
    // grace period) and reports its pending ids. It delivers and dead-letters as the merge does
    // (same settings), and needs neither Kafka nor any topic: its role gets no Kafka grant.
    const { join } = config;
    const sweeper = new PipelineFunction(this, `Sweep-${join.name}`, {
      entry: 'functions/sweep/index.ts',
      description: `Sweeps join ${join.name}: its missing-side policy (${policyText(join.missing)}) and its pending-id metrics`,
      vpc: network.vpc,
      securityGroup: network.mergeSg,
      logRetention: config.logRetention,
      logGroupName: logGroupName(config.stage, `sweep-${join.name}`),
      timeout: Duration.minutes(1),
      environment: mergeEnv,
    });
    bindCacheAuth(sweeper, cache);
    if (analyticsToken) sweeper.bindSecret('ANALYTICS_TOKEN_SECRET_ARN', analyticsToken);
    deadLetters.grantSendMessages(sweeper.fn);
    // A failed sweep is not retried: the next one, a minute later, redoes its work.
    sweeper.fn.configureAsyncInvoke({ retryAttempts: 0 });
    scheduleFetch(this, `Schedule-sweep-${join.name}`, {
      target: config.target,
      fn: sweeper.fn,
      rateMinutes: 1,
      description: `Sweep join ${join.name} every minute`,
    });

    new Observability(this, 'Observability', {
      stage: config.stage,
      target: config.target,
      fetchers: fetchers.map(({ source, fetcher }) => ({
        source: source.name,
        fn: fetcher.fn,
        logGroup: fetcher.logGroup,
      })),
      merge: merge.fn,
      mergeLogGroup: merge.logGroup,
      deadLetters,
      missedRuns,
      failedBatchMappings: mappings.map((mapping) => mapping.eventSourceMappingId),
      sweepers: [{ join: join.name, fn: sweeper.fn }],
      ...(cache.memoryUsedPercent && { cacheMemoryUsedPercent: cache.memoryUsedPercent }),
      config,
    });

    this.invokedFunctions = [
      streaming.topicAdmin,
      ...fetchers.map(({ fetcher }) => fetcher.fn),
      sweeper.fn,
    ];

    new CfnOutput(this, 'BootstrapBrokers', { value: streaming.bootstrapBrokers });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: deadLetters.queueUrl });
    new CfnOutput(this, 'MissedFetchRunsQueueUrl', { value: missedRuns.queueUrl });
    new CfnOutput(this, 'ReplayFunctionName', { value: replay.fn.functionName });
    new CfnOutput(this, 'MergeFunctionName', { value: merge.fn.functionName });
    new CfnOutput(this, 'RedriveFunctionName', {
      value: redrive.fn.functionName,
      description: 'Invoke by hand to re-drive failed merge batches (docs/deploy.md)',
    });
    new CfnOutput(this, 'SweepFunctionName', {
      value: sweeper.fn.functionName,
      description: `The sweeper of join ${join.name}; npm run pending -- --aws invokes it with {"list": N}`,
    });
    for (const { source, fetcher } of fetchers)
      new CfnOutput(this, `Fetch${source.name}FunctionName`, { value: fetcher.fn.functionName });
  }
}

/** `wait`, `emit after 600s`, `drop after 7d`: the policy as the description shows it. */
function policyText(missing: MissingSidePolicy): string {
  if (missing.policy === 'wait') return 'wait';
  const seconds = Math.round(missing.afterMs / 1000);
  return `${missing.policy} after ${seconds}s`;
}

/** Tells a function the cache's AUTH secret, when the cache has one (not on LocalStack). */
function bindCacheAuth(fn: PipelineFunction, cache: JoinStateCache): PipelineFunction {
  return cache.authSecret ? fn.bindSecret('REDIS_AUTH_SECRET_ARN', cache.authSecret) : fn;
}
