#!/usr/bin/env bash
# Offline checks of infra/: shell syntax of the local stack scripts, the Terraform
# in infra/aws parsed and asserted with python-hcl2, and `terraform fmt -check`
# (or tofu) when one happens to be installed. No network needed.
set -euo pipefail
cd "$(dirname "$0")"

echo "==> infra: shell syntax"
for f in local/*.sh check.sh; do bash -n "$f"; done
if command -v shellcheck >/dev/null 2>&1; then shellcheck -S warning local/*.sh check.sh; fi
python3 -c "import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]" local/check.py check_tf.py

echo "==> infra: terraform (python-hcl2)"
python3 check_tf.py

tf="$(command -v terraform || command -v tofu || true)"
if [ -n "$tf" ]; then
  echo "==> infra: $(basename "$tf") fmt -check"
  TF_CLI_CONFIG_FILE=/dev/null "$tf" fmt -check -diff -recursive aws
else
  echo "==> infra: terraform/tofu not installed; fmt check skipped"
fi
