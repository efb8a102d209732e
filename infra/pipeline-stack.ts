import { Annotations, RemovalPolicy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BROKER_DEFAULT_REPLICATION } from '../shared/adapters/kafka-topics.ts';
import type { AdminEnvironment, MergeEnvironment } from '../shared/config.ts';
import { failedTopicOf } from '../shared/domain/failed-batch.ts';
import { TOPICS } from '../shared/sources/registry.ts';
import { type DeployConfig, placeholderEndpoints } from './config.ts';
import { sourcesJson } from './config-sources.ts';
import { Cache, composeCache, type JoinStateCache } from './constructs/cache.ts';
import { existingSecret } from './constructs/credential-secrets.ts';
import { deadLetterQueues, ReplayFunction } from './constructs/dead-letters.ts';
import type { DeliveryBindings } from './constructs/delivery-function.ts';
import { JoinSweeper } from './constructs/join-sweeper.ts';
import type { KafkaCluster } from './constructs/kafka-cluster.ts';
import { MergeStage } from './constructs/merge-stage.ts';
import { Network } from './constructs/network.ts';
import { Observability } from './constructs/observability.ts';
import { RedriveFunction } from './constructs/redrive-function.ts';
import { SelfManagedKafka } from './constructs/self-managed-kafka.ts';
import { missedRunsQueue, SourceIngest } from './constructs/source-ingest.ts';
import { Streaming } from './constructs/streaming.ts';
import { functionEnvironments } from './environments.ts';
import { LOCALSTACK_ENDPOINTS, LOCALSTACK_REGION } from './localstack.ts';
import { logGroupName } from './naming.ts';
import { stackOutputs } from './outputs.ts';

export type PipelineStackProps = StackProps & { config: DeployConfig };

/**
 * The pipeline on AWS, wired as the diagram of docs/design.md reads: the network, the Kafka
 * cluster and the cache; one SourceIngest per source (fetch function, schedule, secret); the
 * MergeStage behind one MSK event source mapping per source topic; the dead-letter queue with
 * its replay, the re-drive and the join's sweeper; and Observability over their alarms. With the
 * `localstack` target, the same functions, mappings, queues, secrets and alarms around the broker
 * and Valkey containers of docker-compose.localstack.yml (infra/localstack.ts).
 *
 * Each part that centres on a function is that function's construct (a PipelineFunction built
 * under the id it has always had), so a stage deployed before the split keeps its log groups,
 * queues and mappings instead of having CloudFormation replace named resources.
 */
export class PipelineStack extends Stack {
  /** Functions invoked by a scheduler or a custom resource provider (for the nag acknowledgements). */
  readonly invokedFunctions: IFunction[];

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const name = (suffix: string) => `${config.stage}-pipeline-${suffix}`;
    const logs = (role: string) => ({
      logRetention: config.logRetention,
      logGroupName: logGroupName(config.stage, role),
    });
    Tags.of(this).add('pipeline:stage', config.stage);
    const dataRemoval = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const network = this.#network(config);
    const { vpc } = network;
    const streaming = this.#kafka(config, network, dataRemoval);
    const cache = this.#cache(config, network, dataRemoval);
    const kafkaEnv = {
      KAFKA_BROKERS: streaming.bootstrapBrokers,
      KAFKA_AUTH: streaming.auth,
      LOG_LEVEL: 'INFO',
    } satisfies AdminEnvironment;

    const missedRuns = missedRunsQueue(this, name('missed-fetch-runs'), dataRemoval);
    const placeholders = placeholderEndpoints(config);
    if (placeholders.length > 0)
      Annotations.of(this).addWarningV2(
        'pipeline:placeholder-endpoints',
        `${placeholders.join(', ')} still point(s) at example.com: the fetch schedules are created disabled, so this stage fetches and delivers nothing. Set them (-c key=https://… or a pipeline:config file) and deploy again (docs/deploy.md, "Placeholder URLs").`,
      );
    const ingests = this.#ingests(config, {
      ...{ network, streaming, cache, kafkaEnv, missedRuns, placeholders },
    });

    const { deadLetters, parked } = deadLetterQueues(this, {
      queueName: name('dead-letters'),
      removalPolicy: dataRemoval,
    });
    const delivery: DeliveryBindings = {
      cache,
      deadLetters,
      analyticsToken:
        config.analyticsTokenSecretArn === undefined
          ? undefined
          : existingSecret(this, 'AnalyticsToken', config.analyticsTokenSecretArn),
    };
    const { deliveryEnv, mergeEnv } = functionEnvironments(config, {
      kafkaEnv,
      cacheUrl: cache.url,
      deadLetterQueueUrl: deadLetters.queueUrl,
    });
    const merge = this.#merge(config, { network, streaming, delivery, mergeEnv, logs, name });
    const functions = { vpc, securityGroup: network.mergeSg };
    // Replay and sweeper never reach the brokers: a group the cluster does not admit.
    const kafkaless = { vpc, securityGroup: network.deliverySg };
    const replay = new ReplayFunction(this, 'Replay', {
      deadLetters,
      parked,
      environment: deliveryEnv,
      delivery: { cache, analyticsToken: delivery.analyticsToken },
      ...kafkaless,
      ...logs('replay'),
    });
    const redrive = new RedriveFunction(this, 'Redrive', {
      failedTopics: merge.failedTopics,
      ...{ environment: mergeEnv, delivery, streaming, ...functions, ...logs('redrive') },
    });
    const sweeper = new JoinSweeper(this, `Sweep-${config.join.name}`, {
      join: config.join,
      ...{ environment: mergeEnv, delivery, target: config.target, ...kafkaless },
      ...logs(`sweep-${config.join.name}`),
      alarmOldestPendingMinutes: config.alarmOldestPendingMinutes,
    });

    const observability = new Observability(this, 'Observability', {
      ...{ stage: config.stage, target: config.target, alarmEmail: config.alarmEmail },
      parts: [network, streaming, ...ingests, merge, replay, sweeper],
      ...{ ingests, merge, sweepers: [sweeper], missedRuns },
      cacheMemoryUsedPercent: cache.memoryUsedPercent,
      fetchRateMinutes: config.fetchRateMinutes,
      alarmOldestPendingMinutes: config.alarmOldestPendingMinutes,
      alarmCacheMemoryPercent: config.alarmCacheMemoryPercent,
    });
    if (config.target === 'aws' && config.alarmEmail === undefined)
      Annotations.of(this).addWarningV2(
        'pipeline:no-alarm-subscriber',
        `no pipeline:alarmEmail: the ${observability.alarms.length} alarms publish to the topic of output AlarmTopicArn, which nothing subscribes to. Set -c pipeline:alarmEmail=… or subscribe your own endpoint (chat, pager) to that topic (docs/deploy.md, "Alarms").`,
      );
    this.invokedFunctions = [streaming.topicAdmin, ...ingests.map(({ fn }) => fn), sweeper.fn];
    stackOutputs(this, {
      alarmTopic: observability.alarmTopic,
      network,
      streaming,
      deadLetters,
      parked,
      missedRuns,
      replay,
      merge,
      redrive,
      sweeper,
      ingests,
    });
  }

  /** One SourceIngest per source of the deployment. */
  #ingests(
    config: DeployConfig,
    parts: {
      network: Network;
      streaming: KafkaCluster;
      cache: JoinStateCache;
      kafkaEnv: AdminEnvironment;
      missedRuns: IQueue;
      placeholders: string[];
    },
  ): SourceIngest[] {
    const { network } = parts;
    return config.sources.map(
      (source) =>
        new SourceIngest(this, `Fetch-${source.name}`, {
          source,
          sourcesJson: sourcesJson(config, [source.name]),
          baseUrl: config.sourceBaseUrls[source.name],
          secretArn: config.sourceSecretArns[source.name],
          target: config.target,
          vpc: network.vpc,
          securityGroup: network.fetchSg,
          kafkaEnv: parts.kafkaEnv,
          streaming: parts.streaming,
          logRetention: config.logRetention,
          logGroupName: logGroupName(config.stage, `fetch-${source.name}`),
          cache: parts.cache,
          fetchRateMinutes: config.fetchRateMinutes,
          reservedConcurrency: config.fetchReservedConcurrency,
          missedRuns: parts.missedRuns,
          alarmMissedFetchPeriods: config.alarmMissedFetchPeriods,
          scheduleEnabled: parts.placeholders.length === 0,
        }),
    );
  }

  #network(config: DeployConfig): Network {
    const { shape } = config;
    return new Network(this, 'Network', {
      logRetention: config.logRetention,
      natInstanceType: shape.nat.kind === 'instance' ? shape.nat.instanceType : undefined,
      interfaceEndpoints: shape.interfaceEndpoints,
      ...(config.availabilityZones && { availabilityZones: config.availabilityZones }),
      ...(config.target === 'localstack' && {
        flowLogs: false,
        availabilityZones: [`${LOCALSTACK_REGION}a`, `${LOCALSTACK_REGION}b`],
      }),
    });
  }

  /** MSK on AWS, the compose broker on LocalStack; either way the topics are created at deploy. */
  #kafka(config: DeployConfig, network: Network, removalPolicy: RemovalPolicy): KafkaCluster {
    const localstack = config.target === 'localstack';
    const sourceTopics = config.sources.map((source) => source.topic);
    const topicAdmin = {
      vpc: network.vpc,
      adminSg: network.adminSg,
      logRetention: config.logRetention,
      adminLogGroupName: logGroupName(config.stage, 'topic-admin'),
      providerLogGroupName: logGroupName(config.stage, 'topic-provider'),
      // MSK Serverless fixes replication at 3 and takes only -1; the small profile's two brokers
      // hold a copy each; the compose broker is one node.
      replicationFactor: localstack
        ? 1
        : config.shape.kafka.kind === 'provisioned'
          ? 2
          : BROKER_DEFAULT_REPLICATION,
      topics: [
        ...sourceTopics.map((topic) => ({ topic, numPartitions: config.sourceTopicPartitions })),
        { topic: TOPICS.quarantine, numPartitions: 1 },
        { topic: TOPICS.deadLetter, numPartitions: 1 },
        ...sourceTopics.map((topic) => ({ topic: failedTopicOf(topic), numPartitions: 1 })),
      ],
    };
    if (localstack)
      return new SelfManagedKafka(this, 'Streaming', {
        ...topicAdmin,
        bootstrapServers: LOCALSTACK_ENDPOINTS.kafkaBootstrapServers,
      });
    return new Streaming(this, 'Streaming', {
      ...topicAdmin,
      kafkaSg: network.kafkaSg,
      clusterName: `${config.stage}-pipeline-msk`,
      removalPolicy,
      cluster: config.shape.kafka,
    });
  }

  #cache(config: DeployConfig, network: Network, removalPolicy: RemovalPolicy): JoinStateCache {
    if (config.target === 'localstack') return composeCache(LOCALSTACK_ENDPOINTS.redisUrl);
    return new Cache(this, 'Cache', {
      vpc: network.vpc,
      securityGroup: network.cacheSg,
      nodes: config.cacheNodes,
      nodeType: config.cacheNodeType,
      removalPolicy,
    });
  }

  #merge(
    config: DeployConfig,
    parts: {
      network: Network;
      streaming: KafkaCluster;
      delivery: DeliveryBindings;
      mergeEnv: MergeEnvironment;
      logs: (role: string) => { logRetention: DeployConfig['logRetention']; logGroupName: string };
      name: (suffix: string) => string;
    },
  ): MergeStage {
    const { name } = parts;
    return new MergeStage(this, 'Merge', {
      sourceTopics: config.sources.map((source) => source.topic),
      groupOf: (topic) => `${name('merge')}-${topic}`,
      environment: parts.mergeEnv,
      delivery: parts.delivery,
      streaming: parts.streaming,
      vpc: parts.network.vpc,
      securityGroup: parts.network.mergeSg,
      ...parts.logs('merge'),
      batchSize: config.mergeBatchSize,
      batchingWindowSeconds: config.mergeBatchingWindowSeconds,
      retryAttempts: config.mergeRetryAttempts,
      mode:
        config.target === 'localstack'
          ? { kind: 'self-managed' }
          : config.shape.mappingMode === 'on-demand'
            ? { kind: 'on-demand' }
            : {
                kind: 'provisioned',
                maxPollers: config.mergeMaxPollers,
                pollerGroupName: name('merge-pollers'),
              },
      alarmOffsetLag: config.alarmOffsetLag,
    });
  }
}
