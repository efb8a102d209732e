#!/usr/bin/env bash
# npm run deploy:local: deploys the localstack target of the stack with cdklocal, waits for the
# Kafka mappings, and says where to look.
# `npm run deploy:local -- --destroy` deletes the stack again. Start the containers first:
#   docker compose -f docker-compose.localstack.yml up -d --build --wait
set -euo pipefail
cd "$(dirname "$0")/../.."

compose="docker compose -f docker-compose.localstack.yml"
endpoint="${AWS_ENDPOINT_URL:-http://localhost:4566}"
if ! curl -fsS "$endpoint/_localstack/health" >/dev/null 2>&1; then
  echo "LocalStack does not answer at $endpoint." >&2
  echo "Start it with: LOCALSTACK_AUTH_TOKEN=... $compose up -d --build --wait" >&2
  echo "No Docker? 'npm run local' runs the pipeline on a real Kafka and Redis without it." >&2
  exit 1
fi

# LocalStack takes any credentials. The region is the one the target names its AZs after
# (infra/localstack.ts), so it is set, not defaulted.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 CDK_DEFAULT_ACCOUNT=000000000000
context=(
  -c pipeline:target=localstack
  -c pipeline:stage=local
  -c pipeline:fetchRateMinutes=1
)
if [[ "${1:-}" == "--destroy" ]]; then
  npx cdklocal destroy --force "${context[@]}"
  exit 0
fi
mkdir -p .local
npx cdklocal bootstrap "${context[@]}"
# cdk deploy returns once CloudFormation (LocalStack's) reports the stack complete.
npx cdklocal deploy --require-approval never --outputs-file .local/localstack-outputs.json "${context[@]}"
npx tsx local/localstack/after-deploy.ts --outputs .local/localstack-outputs.json --endpoint "$endpoint"

cat <<EOF

Deployed local-kafka-merge-pipeline to LocalStack (outputs: .local/localstack-outputs.json).
The fetch functions run every minute; the merge function reads the broker through its mappings.

  Watch Analytics receive the merged records:
    $compose logs -f mocks
  The functions' own log lines (CloudWatch Logs in LocalStack):
    npm run logs -- --localstack --since 15m
  LocalStack itself (Lambda invocations, the Kafka poller):
    $compose logs -f localstack

  Tear down (LocalStack with the stack, the broker, Valkey, the mocks and their volumes):
    $compose down -v
  or delete the stack alone and keep the containers:
    npm run deploy:local -- --destroy
EOF
