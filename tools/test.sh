#!/usr/bin/env bash
# Installs what is missing, then builds and runs the whole test suite.
#
#   tools/test.sh                 # everything
#   tools/test.sh //user_svc/...  # a part
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
flags=()
# CI runs every test every time, even when the disk cache has a result.
if [ "${CI:-}" = "true" ]; then flags+=(--nocache_test_results); fi
status=0
bazel test "${flags[@]}" "${@:-//...}" || status=$?
# CI machines keep no server between runs.
if [ "${CI:-}" = "true" ]; then bazel shutdown; fi
exit "$status"
