#!/usr/bin/env bash
# Runs unit tests under clang's AddressSanitizer and UndefinedBehaviorSanitizer
# on the build tools/fuzz.sh makes (--config=fuzz, its own output base), so
# CI pays for one sanitizer build, not two. Default: the tests of what
# parses and checks input (in gateway, status, validation) and every fuzz
# target's seed corpus.
#
#   tools/sanitizer_tests.sh                 # the default set
#   tools/sanitizer_tests.sh //gateway/...   # a part
#
# The whole suite under gcc's ASan+UBSan is `bazel test --config=asan //...`
# (README); it takes too long for CI.
set -euo pipefail
cd "$(dirname "$0")/.."

# The default keeps CI under 30 minutes (from nothing, 2026-11-27: gcc
# suite 16 min, fuzzing 5, this phase 6+ with all of gateway/): in gateway/
# only the tests of what parses or checks client input (HTTP, paths, query
# and form, JSON transcoding, tokens, CORS and auth rules); storage/ (its
# PostgreSQL tests are slow under ASan) and mesh/ (its config parsing is
# fuzzed under ASan) are out too. Run the rest by hand:
# tools/sanitizer_tests.sh //gateway/... //storage/... //mesh/...
default_targets=(
  //gateway:auth_policy_test //gateway:cors_policy_test
  //gateway:http_server_test //gateway:jwt_verifier_test
  //gateway:path_template_test //gateway:percent_encoding_test
  //gateway:request_transcoder_test //gateway:route_table_test
  //gateway:url_encoded_form_test
  //status/... //validation/... //fuzz/...)
output_base=${FUZZ_OUTPUT_BASE:-$HOME/.cache/stubmesh-bazel-fuzz}
flags=(--config=fuzz --symlink_prefix=/ --build_tests_only)
if [ "${CI:-}" = "true" ]; then flags+=(--nocache_test_results); fi
# shellcheck disable=SC2206
flags+=(${FUZZ_BUILD_FLAGS:-})
# Leaks inside system libraries (not ours) are suppressed by name.
flags+=("--test_env=LSAN_OPTIONS=suppressions=$PWD/fuzz/lsan_suppressions.txt")
status=0
bazel --output_base="$output_base" test "${flags[@]}" \
  "${@:-${default_targets[@]}}" || status=$?
if [ "${CI:-}" = "true" ]; then bazel --output_base="$output_base" shutdown; fi
exit "$status"
