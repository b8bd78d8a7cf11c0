#!/usr/bin/env bash
# Installs what is missing, then builds and runs the whole test suite.
#
#   tools/test.sh                 # everything
#   tools/test.sh //user_svc/...  # a part
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
status=0
bazel test "${@:-//...}" || status=$?
# CI machines keep no server between runs.
if [ "${CI:-}" = "true" ]; then bazel shutdown; fi
exit "$status"
