#!/usr/bin/env bash
# Lints the synthesized CloudFormation templates with cfn-lint (settings in .cfnlintrc.yaml):
# cdk.out/ (the standard profile) and, when present, cdk.out.small/ (`npx cdk synth -c
# pipeline:profile=small -o cdk.out.small`, as .ci/run does). Fails on errors and warnings;
# exceptions are named in .cfnlintrc.yaml or on the resource, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "cfn-lint is not installed: pip install cfn-lint (it is on the project's CI machines)." >&2
  exit 1
fi
shopt -s nullglob
templates=(cdk.out/*.template.json cdk.out.small/*.template.json)
if [ ${#templates[@]} -eq 0 ]; then
  echo "No template in cdk.out/: run 'npx cdk synth' first." >&2
  exit 1
fi
echo "cfn-lint $(cfn-lint --version | awk '{print $2}') on ${templates[*]}"
cfn-lint -- "${templates[@]}"
echo "cfn-lint: no errors or warnings"
