import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadAdminConfig,
  loadFetchConfig,
  loadMergeConfig,
  loadReplayConfig,
  SETTINGS,
} from '../../shared/config.ts';
import { synthesize } from '../support/synth.ts';
import { type DeployedFunction, deployedFunctions } from '../support/template-functions.ts';

/*
 * The contract between the stack and the functions: what each function gets in the template is
 * what its config loader parses. A renamed setting fails here (and in tsc), not at a cold start.
 */

/** Variables Lambda, Node or Powertools read, not our config loaders. */
const PLATFORM = new Set(['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME']);

const FETCH = { settings: SETTINGS.fetch, load: loadFetchConfig };
const LOADERS = {
  TopicAdmin: { settings: SETTINGS.admin, load: loadAdminConfig },
  'Fetch-crm': FETCH,
  'Fetch-inventory': FETCH,
  // examples/three-sources.json's third source.
  'Fetch-pricing': FETCH,
  Merge: { settings: SETTINGS.merge, load: loadMergeConfig },
  Replay: { settings: SETTINGS.replay, load: loadReplayConfig },
  Redrive: { settings: SETTINGS.merge, load: loadMergeConfig },
  // functions/sweep/index.ts loads the merge's settings (it delivers as the merge does).
  'Sweep-main': { settings: SETTINGS.merge, load: loadMergeConfig },
} as const;

/** What a deploy-time value looks like once CloudFormation has resolved it. */
function deployTimeValue(name: string): string {
  if (name === 'KAFKA_BROKERS') return 'b-1.msk.example:9098,b-2.msk.example:9098';
  if (name === 'REDIS_URL') return 'rediss://master.cache.example:6380';
  if (name.endsWith('_ARN')) return `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}`;
  if (name.endsWith('_URL')) return 'https://sqs.eu-west-1.amazonaws.com/123456789012/queue';
  throw new Error(`no deploy-time value for ${name}`);
}

const BUILT_IN_FUNCTIONS = Object.keys(LOADERS).filter((name) => name !== 'Fetch-pricing');

describe.each([
  { target: 'aws', auth: 'iam', context: {}, names: BUILT_IN_FUNCTIONS, sides: {} },
  { target: 'localstack', auth: 'none', context: {}, names: BUILT_IN_FUNCTIONS, sides: {} },
  {
    target: 'aws',
    auth: 'iam',
    context: { 'pipeline:config': 'examples/three-sources.json' },
    names: Object.keys(LOADERS),
    sides: { sides: { crm: 'customer', inventory: 'inventory', pricing: 'price' } },
  },
])(
  'the environment each function gets on the $target target, context $context',
  ({ target, auth, context, names, sides }) => {
    let functions: DeployedFunction[];
    let template: Template;

    beforeAll(() => {
      const synthesized = synthesize({
        'pipeline:stage': 'contract',
        'pipeline:target': target,
        ...context,
      });
      template = synthesized.template;
      functions = deployedFunctions(template, synthesized.outdir);
    });

    it('covers every function of ours', () => {
      expect(functions.map((fn) => fn.name).sort()).toEqual([...names].sort());
    });

    it('sets only variables its config loader parses', () => {
      for (const fn of functions) {
        const loader = LOADERS[fn.name as keyof typeof LOADERS];
        const unknown = Object.keys(fn.environment).filter(
          (name) => !PLATFORM.has(name) && !(loader.settings as readonly string[]).includes(name),
        );
        expect({ fn: fn.name, unknown }).toEqual({ fn: fn.name, unknown: [] });
      }
    });

    it('parses with the loader of the function, as deployed', () => {
      for (const fn of functions) {
        const loader = LOADERS[fn.name as keyof typeof LOADERS];
        const env = Object.fromEntries(
          Object.entries(fn.environment).map(([name, value]) => [
            name,
            typeof value === 'string' ? value : deployTimeValue(name),
          ]),
        );
        const config = loader.load({ ...env, AWS_REGION: 'eu-west-1' });
        if ('KAFKA_AUTH' in config) expect(config).toMatchObject({ KAFKA_AUTH: auth });
        else expect({ fn: fn.name, kafka: fn.environment.KAFKA_BROKERS }).toEqual({ fn: fn.name });
      }
    });

    it('gives the replay the delivery settings the merge has, and nothing of Kafka', () => {
      const merge = functions.find((fn) => fn.name === 'Merge');
      const replay = functions.find((fn) => fn.name === 'Replay');
      const delivery = Object.keys(replay?.environment ?? {}).filter((name) => !PLATFORM.has(name));
      expect(delivery).toEqual(expect.arrayContaining(['REDIS_URL', 'ANALYTICS_URL', 'LOG_LEVEL']));
      for (const name of delivery)
        expect({ name, value: replay?.environment[name] }).toEqual({
          name,
          value: merge?.environment[name],
        });
      expect(delivery.filter((name) => /^(KAFKA_|TOPIC_|DEAD_LETTER_)/.test(name))).toEqual([]);
    });

    it('gives the join declared in context to every function that joins or sweeps, as its loader reads it', () => {
      const declared = synthesize({
        'pipeline:stage': 'contract',
        'pipeline:target': target,
        ...context,
        'pipeline:join': JSON.stringify({ ...sides, missing: 'emit after 10m' }),
      });
      const withJoin = deployedFunctions(declared.template, declared.outdir).filter(
        (fn) => fn.environment.PIPELINE_JOIN !== undefined,
      );
      // The replay re-delivers payloads already joined: it gets no join.
      expect(withJoin.map((fn) => fn.name).sort()).toEqual(['Merge', 'Redrive', 'Sweep-main']);
      for (const fn of withJoin) {
        const env = Object.fromEntries(
          Object.entries(fn.environment).map(([name, value]) => [
            name,
            typeof value === 'string' ? value : deployTimeValue(name),
          ]),
        );
        expect(loadMergeConfig({ ...env, AWS_REGION: 'eu-west-1' }).join.missing).toEqual({
          policy: 'emit',
          afterMs: 600_000,
        });
      }
    });

    it('names the merge dead-letter queue the template creates', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            DEAD_LETTER_TARGET: 'sqs',
            DEAD_LETTER_QUEUE_URL: { Ref: Match.stringLikeRegexp('^DeadLetterQueue') },
          }),
        },
      });
    });
  },
);
