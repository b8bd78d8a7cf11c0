#!/usr/bin/env bash
# bench:smoke_test — the benchmark harness end to end, seconds long:
# bench/run.sh --smoke starts every system under test (user_svc, order_svc
# direct and through nghttpx, the gateway, the Go grpc-gateway built from
# ../shared/baselines/gwgo, the Flask service) on 127.0.0.1, loads each for
# about 1 s, and fails only on a setup error or a system that served
# nothing. No number is checked: performance is for bench/run.sh itself.
set -euo pipefail

R=${TEST_SRCDIR:?run under bazel test}/${TEST_WORKSPACE:?}
# nghttpx lives in /usr/sbin, which a test's PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
# Go's build cache: the user's own (warm after any earlier gwgo build), not
# the test's fresh HOME.
if [ -z "${GOCACHE:-}" ]; then
  home=$(getent passwd "$(id -u)" | cut -d: -f6 || true)
  if [ -n "$home" ] && mkdir -p "$home/.cache/go-build" 2>/dev/null &&
     [ -w "$home/.cache/go-build" ]; then
    export GOCACHE="$home/.cache/go-build"
  else
    export GOCACHE="$TEST_TMPDIR/go-build"
  fi
fi

# run.sh resolves its own path (a runfiles symlink) to the source tree, where
# ../shared/baselines and protos/ are; the binaries are this test's.
exec "$R/bench/run.sh" --smoke --bin_dir "$R" \
  --out "${TEST_UNDECLARED_OUTPUTS_DIR:-$TEST_TMPDIR}"
