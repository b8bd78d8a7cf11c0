#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ with libFuzzer, ASan and UBSan
# (--config=fuzz, clang-14) and runs each for a bounded time. Fails when any
# fuzzer finds a crash, a leak, undefined behaviour, a timeout or an
# out-of-memory; the input that did it is kept in the artifact directory.
#
#   tools/fuzz.sh                       # every target, 30 s each
#   tools/fuzz.sh -t 300 route_table    # one target, 5 min
#   FUZZ_SECONDS=10 tools/fuzz.sh       # the same as -t 10
#
# A finding reproduces with the printed command (the fuzzer binary and the
# kept input). Fix the bug, then add the input to fuzz/corpus/<target>/ as a
# regression seed: `bazel test //fuzz/...` runs every seed in every build.
#
# The fuzz build is a whole clang tree; it gets its own Bazel output base
# (FUZZ_OUTPUT_BASE) so it does not evict the gcc one. Inputs the fuzzers
# find are kept between runs in FUZZ_WORK/<target>/corpus (not in the tree).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${FUZZ_SECONDS:-30}
while getopts "t:h" opt; do
  case "$opt" in
    t) seconds=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

all_targets=(path_template route_table url_encoded_form request_transcoder
             http_request mesh_config)
targets=("${@:-${all_targets[@]}}")

output_base=${FUZZ_OUTPUT_BASE:-$HOME/.cache/stubmesh-bazel-fuzz}
work=${FUZZ_WORK:-/tmp/stubmesh-fuzz}
artifacts=${FUZZ_ARTIFACTS:-$root/fuzz-artifacts}
bazel_fuzz=(bazel --output_base="$output_base")

labels=()
for t in "${targets[@]}"; do labels+=("//fuzz:${t}_fuzzer"); done
# --symlink_prefix=/ : leave bazel-bin & co. pointing at the gcc tree.
# FUZZ_BUILD_FLAGS: more build flags (e.g. --disk_cache= for a cold build).
# shellcheck disable=SC2206
build_flags=(--config=fuzz --symlink_prefix=/ ${FUZZ_BUILD_FLAGS:-})
"${bazel_fuzz[@]}" build "${build_flags[@]}" "${labels[@]}"
bin=$("${bazel_fuzz[@]}" info "${build_flags[@]}" bazel-bin 2>/dev/null)

mkdir -p "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan_suppressions.txt}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
[ -x "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$symbolizer}
failed=()
for t in "${targets[@]}"; do
  corpus="$work/$t/corpus"
  mkdir -p "$corpus" "$artifacts/$t"
  flags=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560
         -max_len=8192 -print_final_stats=1
         -artifact_prefix="$artifacts/$t/")
  [ -f "fuzz/$t.dict" ] && flags+=(-dict="fuzz/$t.dict")
  # The fuzz targets that share a dictionary name it in fuzz/BUILD.
  case "$t" in
    route_table) flags+=(-dict=fuzz/path_template.dict) ;;
    mesh_config) flags+=(-dict=fuzz/json.dict) ;;
  esac
  echo "fuzz: $t for ${seconds}s"
  log="$work/$t/log"
  # New inputs go to the first directory; the seeds stay as they are.
  if "$bin/fuzz/${t}_fuzzer" "${flags[@]}" "$corpus" "fuzz/corpus/$t" \
      >"$log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' \
      "$log" | tr '\n' ' ' || true
    echo
  else
    failed+=("$t")
    tail -n 60 "$log"
    echo "fuzz: $t FAILED; full log: $log; kept inputs:"
    for f in "$artifacts/$t"/*; do
      [ -e "$f" ] || continue
      echo "  $f"
      echo "  reproduce: $bin/fuzz/${t}_fuzzer $f"
    done
  fi
done

# CI machines keep no server between runs.
if [ "${CI:-}" = "true" ]; then "${bazel_fuzz[@]}" shutdown; fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs in $artifacts)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no findings"
