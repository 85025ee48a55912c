#!/usr/bin/env bash
# Runs a command with the project's Terraform CLI configuration:
#   infra/scripts/tf-env.sh terraform validate
# (a TF_CLI_CONFIG_FILE already in the environment is replaced: machines
# may point it at a file that does not exist).
set -euo pipefail
TF_CLI_CONFIG_FILE="$("$(dirname "${BASH_SOURCE[0]}")/terraform-cli-config.sh")"
export TF_CLI_CONFIG_FILE
export TG_TF_PATH="${TG_TF_PATH:-terraform}" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
exec "$@"
