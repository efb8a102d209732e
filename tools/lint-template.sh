#!/usr/bin/env bash
# Lints the synthesized CloudFormation template with cfn-lint (settings in .cfnlintrc.yaml).
# Fails on errors and warnings; exceptions are named there or on the resource, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "cfn-lint is not installed: pip install cfn-lint (it is on the project's CI machines)." >&2
  exit 1
fi
shopt -s nullglob
templates=(cdk.out/*.template.json)
if [ ${#templates[@]} -eq 0 ]; then
  echo "No template in cdk.out/: run 'npx cdk synth' first." >&2
  exit 1
fi
echo "cfn-lint $(cfn-lint --version | awk '{print $2}') on ${templates[*]}"
cfn-lint
echo "cfn-lint: no errors or warnings"
