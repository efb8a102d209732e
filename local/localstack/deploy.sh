#!/usr/bin/env bash
# Deploys the stack to LocalStack with cdklocal. Start it first:
#   docker compose -f docker-compose.localstack.yml up -d --build
set -euo pipefail
cd "$(dirname "$0")/../.."

endpoint="${AWS_ENDPOINT_URL:-http://localhost:4566}"
if ! curl -fsS "$endpoint/_localstack/health" >/dev/null 2>&1; then
  echo "LocalStack does not answer at $endpoint." >&2
  echo "Start it with: LOCALSTACK_AUTH_TOKEN=... docker compose -f docker-compose.localstack.yml up -d --build" >&2
  echo "No Docker? 'npm run local' runs the pipeline on a real Kafka and Redis without it." >&2
  exit 1
fi

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" CDK_DEFAULT_ACCOUNT=000000000000
context=(
  -c pipeline:stage=local
  -c pipeline:crmBaseUrl=http://mocks:4010
  -c pipeline:inventoryBaseUrl=http://mocks:4011
  -c pipeline:analyticsUrl=http://mocks:4012/analytics
  -c pipeline:fetchRateMinutes=1
)
npx cdklocal bootstrap "${context[@]}"
npx cdklocal deploy --require-approval never --outputs-file .local/localstack-outputs.json "${context[@]}"
echo "Deployed. Outputs: .local/localstack-outputs.json; mock Analytics log: docker compose -f docker-compose.localstack.yml logs -f mocks"
