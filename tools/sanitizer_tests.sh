#!/usr/bin/env bash
# Runs unit tests under clang's AddressSanitizer and UndefinedBehaviorSanitizer
# on the build tools/fuzz.sh makes (--config=fuzz, its own output base), so
# CI pays for one sanitizer build, not two. Default: the packages that parse
# and check input (gateway, status, validation) and every fuzz target's seed
# corpus.
#
#   tools/sanitizer_tests.sh                 # the default set
#   tools/sanitizer_tests.sh //gateway/...   # a part
#
# The whole suite under gcc's ASan+UBSan is `bazel test --config=asan //...`
# (README); it takes too long for CI.
set -euo pipefail
cd "$(dirname "$0")/.."

# storage/ and mesh/ are left out of the default to keep CI under 30
# minutes (from nothing: gcc suite 14 min, fuzzing 5, this 6 with mesh/):
# storage's PostgreSQL tests are slow under ASan, and mesh's config parsing
# is under ASan in the mesh_config fuzzer anyway. Run them by hand:
# tools/sanitizer_tests.sh //storage/... //mesh/...
default_targets=(//gateway/... //status/... //validation/... //fuzz/...)
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
