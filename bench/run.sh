#!/usr/bin/env bash
# bench/run.sh — stubmesh's benchmarks side by side (issue 5), in one command.
#
# Builds what it needs, starts every system under test on 127.0.0.1, runs
# time-bounded loads (wrk for HTTP, bench/grpc_load for gRPC) in several short
# runs that alternate the order of A and B, samples the RSS of the servers
# under load, stops everything it started, and writes a report:
# RESULTS_DIR/<timestamp>.json and .md (min/median/max of each figure, and the
# ratios of the issue's targets). See bench/README.md.
#
#   bench/run.sh                  # 3 runs x 5 s per figure (about 5 minutes)
#   bench/run.sh --long           # 5 runs x 15 s per figure
#   bench/run.sh --runs 4 --duration 8
#   bench/run.sh --smoke          # every system ~1 s, checks only that each
#                                 # answered; what CI runs (bench:smoke_test)
#
# Options:
#   --smoke            one short load per system; fails only on setup errors
#                      or a system that served nothing, never on numbers
#   --runs N           runs of every figure (default 3)
#   --duration S       seconds of each load (default 5)
#   --long             --runs 5 --duration 15
#   --pin SUT,LOAD     CPUs for the systems under test and for the load
#                      generators (default 0,1 when there are 2+ CPUs and
#                      taskset exists); --pin none turns pinning off
#   --out DIR          where the report goes (default bench/results; for
#                      --smoke, only stdout unless --out or --keep)
#   --db_dir DIR       where the SQLite files go (default: a temporary dir on
#                      tmpfs /dev/shm, so that fsync costs nothing and the
#                      figures measure the software, not the disk)
#   --bin_dir DIR      prebuilt binaries laid out like bazel-bin
#                      (user_svc/user_svc, order_svc/order_svc,
#                      gateway/gateway, protos/descriptor_set.pb,
#                      bench/grpc_load); skips `bazel build`
#   --proto_dir DIR    the protos the Go grpc-gateway is built from
#                      (default: protos/)
#   --keep             keep the work dir (logs, raw outputs)
#   --no_micro         skip the micro-benchmarks (bench/micro: JSON
#                      transcoding, route matching, form parsing), which a
#                      full run otherwise runs first, on the SUT CPU; --smoke
#                      never runs them
#   --micro_only       only the micro-benchmarks (no systems, no loads)
#
# Environment: STUBMESH_BASELINES (default ../shared/baselines beside the
# repository), PYTHON (default /usr/bin/python3, Debian's, with
# python3-flask), GOCACHE (Go's build cache; gwgo rebuilds in seconds when
# warm).
#
# Loads go to 127.0.0.1 only. Exit status: 0 done (whatever the numbers),
# 1 a system failed to serve during --smoke, 2 a setup error.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
ROOT=$(dirname "$HERE")
BASELINES=${STUBMESH_BASELINES:-$(cd "$ROOT/.." && pwd)/shared/baselines}
PATH="$PATH:/usr/sbin:/sbin"  # nghttpx
PY=${PYTHON:-/usr/bin/python3}

MODE=full RUNS=3 DURATION=5 PIN=auto OUT_DIR="" DB_DIR="" BIN_DIR=""
PROTO_DIR="$ROOT/protos" KEEP=0 MICRO=1 MICRO_ONLY=0
ARGS_GIVEN="$*"

die() { echo "run.sh: setup error: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) MODE=smoke ;;
    --long) RUNS=5 DURATION=15 ;;
    --runs) RUNS=${2:?}; shift ;;
    --runs=*) RUNS=${1#*=} ;;
    --duration) DURATION=${2:?}; shift ;;
    --duration=*) DURATION=${1#*=} ;;
    --pin) PIN=${2:?}; shift ;;
    --pin=*) PIN=${1#*=} ;;
    --out) OUT_DIR=${2:?}; shift ;;
    --out=*) OUT_DIR=${1#*=} ;;
    --db_dir) DB_DIR=${2:?}; shift ;;
    --db_dir=*) DB_DIR=${1#*=} ;;
    --bin_dir) BIN_DIR=${2:?}; shift ;;
    --bin_dir=*) BIN_DIR=${1#*=} ;;
    --proto_dir) PROTO_DIR=${2:?}; shift ;;
    --proto_dir=*) PROTO_DIR=${1#*=} ;;
    --keep) KEEP=1 ;;
    --no_micro) MICRO=0 ;;
    --micro_only) MICRO_ONLY=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "--duration must be a positive number of seconds"
case "$PIN" in
  auto|none) ;;
  *) [[ "$PIN" =~ ^[0-9]+,[0-9]+$ ]] || die "--pin takes SUT,LOAD (e.g. 0,1) or none" ;;
esac
if [ "$MODE" = smoke ]; then RUNS=1 DURATION=1 MICRO=0; fi
[ "$MICRO_ONLY" = 1 ] && MICRO=1
MICRO_BINS=(json_transcoding_benchmark route_table_benchmark url_encoded_form_benchmark)

log() { printf '%s run.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- what the machine must have -----------------------------------------------------------
need() {  # need TOOL DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 || die "missing '$1' (Debian package $2; tools/install-deps.sh)"
}
need wrk wrk
need nghttpx nghttp2-proxy
need go golang-go
need protoc protobuf-compiler
need protoc-gen-go protoc-gen-go-1-3
need protoc-gen-grpc-gateway golang-grpc-gateway
need curl curl
[ -x "$PY" ] || die "no $PY (Debian's python3)"
"$PY" -c 'import flask' 2>/dev/null || die "$PY cannot import flask (Debian package python3-flask)"
[ -f /usr/share/gocode/src/github.com/grpc-ecosystem/grpc-gateway/runtime/mux.go ] ||
  die "no grpc-gateway Go sources (Debian package golang-github-grpc-ecosystem-grpc-gateway-dev)"
[ -x "$BASELINES/gwgo/build.sh" ] || die "no $BASELINES/gwgo/build.sh (set STUBMESH_BASELINES)"
[ -f "$BASELINES/flask_seed/user_service.py" ] || die "no $BASELINES/flask_seed/user_service.py"

# --- work dir, cleanup ----------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stubmesh-bench.XXXXXX")
# SQLite on tmpfs by default: every write is fsync'ed (synchronous=FULL), and
# on this kind of VM disk that makes the write figures measure the disk, not
# the software. --db_dir puts them on a disk.
SHM_DB=""
if [ -z "$DB_DIR" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    SHM_DB=$(mktemp -d /dev/shm/stubmesh-bench-db.XXXXXX)
    DB_DIR=$SHM_DB
  else
    DB_DIR=$WORK
  fi
fi
mkdir -p "$DB_DIR"
DB_FS=$(df -PT "$DB_DIR" 2>/dev/null | awk 'NR == 2 { print $2 }')
declare -A SUT_PID=()      # system name -> pid
STARTED=()                 # pids in start order
LOAD_PIDS=()               # the load running now, and its RSS sampler
FAILED=1
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local i pid
  for pid in "${LOAD_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
    kill -TERM "${STARTED[$i]}" 2>/dev/null || true
  done
  for pid in "${STARTED[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [ -n "$SHM_DB" ] && rm -rf "$SHM_DB"
  if [ "$KEEP" = 1 ] || [ "$FAILED" = 1 ] || [ "$rc" != 0 ]; then
    echo "run.sh: logs and raw outputs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CMD...: a system under test, in the background, on the SUT CPU.
# A simple command (no function, no subshell), and taskset and env exec the
# server: $! is the server's own pid, for signals and /proc.
start() {
  local name=$1; shift
  local cmd=("$@")
  [ -n "$CPU_SUT" ] && cmd=(taskset -c "$CPU_SUT" "${cmd[@]}")
  "${cmd[@]}" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  SUT_PID[$name]=$!
  STARTED+=($!)
}
failed_start() {  # failed_start NAME WHY
  echo "---- $WORK/$1.err (tail)" >&2; tail -n 20 "$WORK/$1.err" >&2 || true
  die "$1: $2"
}
# wait_listening NAME: until the process printed "... listening on HOST:PORT";
# echoes PORT.
wait_listening() {
  local name=$1 port
  for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\).*/\1/p' "$WORK/$name.out" "$WORK/$name.err" 2>/dev/null | head -n1)
    if [ -n "$port" ]; then echo "$port"; return 0; fi
    kill -0 "${SUT_PID[$name]}" 2>/dev/null || failed_start "$name" "exited before listening"
    sleep 0.05
  done
  failed_start "$name" "not listening after 10 s"
}
wait_port() {  # wait_port NAME PORT
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    kill -0 "${SUT_PID[$1]}" 2>/dev/null || failed_start "$1" "exited before listening"
    sleep 0.05
  done
  failed_start "$1" "port $2 never opened"
}
free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- build ----------------------------------------------------------------------------------
if [ -z "$BIN_DIR" ]; then
  log "bazel build (user_svc, order_svc, gateway, descriptor set, grpc_load)"
  micro_targets=()
  [ "$MICRO" = 1 ] && micro_targets=(//bench/micro:all)
  (cd "$ROOT" && bazel build //user_svc:user_svc //order_svc:order_svc //gateway:gateway \
      //protos:descriptor_set //bench:grpc_load "${micro_targets[@]}") > "$WORK/bazel-build.log" 2>&1 ||
    { tail -n 30 "$WORK/bazel-build.log" >&2; die "bazel build failed"; }
  # Where this build's outputs are (the bazel-bin symlink follows whichever
  # build ran last in the tree, perhaps with other flags).
  BIN_DIR=$(cd "$ROOT" && bazel info bazel-bin 2>/dev/null) || die "bazel info bazel-bin failed"
fi
# Private copies: another build in the same tree may replace the outputs
# while the loads run.
mkdir -p "$WORK/bin"
for f in user_svc/user_svc order_svc/order_svc gateway/gateway bench/grpc_load \
         protos/descriptor_set.pb; do
  [ -f "$BIN_DIR/$f" ] || die "no $BIN_DIR/$f"
  cp -L "$BIN_DIR/$f" "$WORK/bin/" || die "cannot copy $BIN_DIR/$f"
done
if [ "$MICRO" = 1 ]; then
  for f in "${MICRO_BINS[@]}"; do
    [ -f "$BIN_DIR/bench/micro/$f" ] || die "no $BIN_DIR/bench/micro/$f"
    cp -L "$BIN_DIR/bench/micro/$f" "$WORK/bin/" || die "cannot copy $f"
  done
fi
USER_SVC=$WORK/bin/user_svc
ORDER_SVC=$WORK/bin/order_svc
GATEWAY=$WORK/bin/gateway
DESCRIPTORS=$WORK/bin/descriptor_set.pb
GRPC_LOAD=$WORK/bin/grpc_load

if [ "$MICRO_ONLY" = 0 ]; then
  log "building the Go grpc-gateway (gwgo) from $PROTO_DIR into $WORK/gwgo"
  "$BASELINES/gwgo/build.sh" "$PROTO_DIR" "$WORK/gwgo" > "$WORK/gwgo-build.log" 2>&1 ||
    { tail -n 30 "$WORK/gwgo-build.log" >&2; die "gwgo build.sh failed"; }
fi
GWGO=$WORK/gwgo/gwgo

# --- CPU pinning ----------------------------------------------------------------------------
NCPU=$(nproc)
CPU_SUT="" CPU_LOAD=""
if [ "$PIN" = auto ]; then
  if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null; then CPU_SUT=0 CPU_LOAD=1; fi
elif [ "$PIN" != none ]; then
  command -v taskset >/dev/null || die "--pin needs taskset (util-linux)"
  CPU_SUT=${PIN%,*} CPU_LOAD=${PIN#*,}
fi
if [ -n "$CPU_LOAD" ]; then
  # (After the builds, which keep both CPUs.) The harness itself (curl, samplers, wrk, grpc_load) runs on the load CPU;
  # every server is started on the SUT CPU.
  taskset -pc "$CPU_LOAD" $$ >/dev/null
  PIN_DESC="systems under test (gateway, gwgo, Flask, user_svc, order_svc, nghttpx) on CPU $CPU_SUT; load generators (wrk, grpc_load) and this script on CPU $CPU_LOAD; for the *_apart figures user_svc moves to CPU $CPU_LOAD and grpc_load runs on CPU $CPU_SUT"
  WRK_THREADS=1
  HTTP_DESC="gateway --io_threads=1; gwgo GOMAXPROCS=1 -orig-name=false; Flask threaded dev server (as in flask_seed)"
else
  PIN_DESC="none (nproc=$NCPU)"
  WRK_THREADS=2
  HTTP_DESC="gateway --io_threads=0 (one per core); gwgo default GOMAXPROCS, -orig-name=false; Flask threaded dev server (as in flask_seed)"
fi

# --- micro-benchmarks -----------------------------------------------------------------------
# Before the systems start, on the SUT CPU (nothing else of ours runs then):
# 3 repetitions, the report takes each one's median CPU time.
MICRO_ARGS=()
if [ "$MICRO" = 1 ]; then
  log "micro-benchmarks (bench/micro) on CPU ${CPU_SUT:-any}"
  for f in "${MICRO_BINS[@]}"; do
    cmd=("$WORK/bin/$f" --descriptor_set="$DESCRIPTORS" --benchmark_repetitions=3
         --benchmark_report_aggregates_only=true --benchmark_min_time=0.3
         --benchmark_out="$WORK/$f.json" --benchmark_out_format=json)
    [ "$f" = route_table_benchmark ] && cmd=("$WORK/bin/$f" "${cmd[@]:2}")
    [ -n "$CPU_SUT" ] && cmd=(taskset -c "$CPU_SUT" "${cmd[@]}")
    "${cmd[@]}" > "$WORK/$f.out" 2>&1 || { tail -n 20 "$WORK/$f.out" >&2; die "$f failed"; }
    MICRO_ARGS+=(--micro "$WORK/$f.json")
  done
fi
if [ "$MICRO_ONLY" = 1 ]; then
  mkdir -p "${OUT_DIR:=$HERE/results}"
  STAMP=$(date -u +%Y%m%dT%H%M%SZ)
  : > "$WORK/records.jsonl"
  "$PY" "$HERE/report.py" report --records "$WORK/records.jsonl" --mode micro \
    --json "$OUT_DIR/$STAMP-micro.json" --markdown "$OUT_DIR/$STAMP-micro.md" \
    --meta "command=bench/run.sh${ARGS_GIVEN:+ $ARGS_GIVEN}" \
    --meta "pinning=micro-benchmarks on CPU ${CPU_SUT:-any}" "${MICRO_ARGS[@]}"
  log "report: $OUT_DIR/$STAMP-micro.md"
  cat "$OUT_DIR/$STAMP-micro.md"
  FAILED=0
  exit 0
fi

# --- start the systems under test -----------------------------------------------------------
SERVER_FLAGS=(--access_log=false --admin_port=-1 --max_connection_age=1h)
log "starting the systems under test; pinning: $PIN_DESC"
start user_svc "$USER_SVC" --port=0 --db="$DB_DIR/users.db" "${SERVER_FLAGS[@]}"
USER_PORT=$(wait_listening user_svc)

# One user that every read asks for.
"$GRPC_LOAD" --target="127.0.0.1:$USER_PORT" --method=CreateUser --requests=1 --warmup=0 \
  > "$WORK/prefill.json" 2>"$WORK/prefill.err" || die "could not create the user ($(cat "$WORK/prefill.json"))"
USER_ID=$(sed -n 's/.*"last_response":"id: \([0-9][0-9]*\) .*/\1/p' "$WORK/prefill.json")
[ -n "$USER_ID" ] || die "no user created: $(cat "$WORK/prefill.json")"

NGHTTPX_PORT=$(free_port)
start nghttpx nghttpx --conf=/dev/null --single-process --workers=1 --no-ocsp \
  --frontend="127.0.0.1,$NGHTTPX_PORT;no-tls" --backend="127.0.0.1,$USER_PORT;;proto=h2" \
  --accesslog-file=/dev/null --errorlog-file="$WORK/nghttpx.log"
wait_port nghttpx "$NGHTTPX_PORT"

# Neither order_svc tails user_svc's events: the hop figures do not need it,
# and replaying the UserCreated events of the POST loads would compete for
# the systems' core during other figures.
start order_direct "$ORDER_SVC" --port=0 --db="$DB_DIR/orders-direct.db" \
  --user_service="127.0.0.1:$USER_PORT" --consume_user_events=false "${SERVER_FLAGS[@]}"
ORDER_DIRECT_PORT=$(wait_listening order_direct)
start order_proxy "$ORDER_SVC" --port=0 --db="$DB_DIR/orders-proxy.db" \
  --user_service="127.0.0.1:$NGHTTPX_PORT" --consume_user_events=false "${SERVER_FLAGS[@]}"
ORDER_PROXY_PORT=$(wait_listening order_proxy)

GW_FLAGS=()
GO_ENV=()
if [ -n "$CPU_SUT" ]; then GW_FLAGS+=(--io_threads=1); GO_ENV+=(GOMAXPROCS=1); fi
start gateway "$GATEWAY" --port=0 --descriptor_set="$DESCRIPTORS" \
  --backend="stubmesh.user.v1.UserService=127.0.0.1:$USER_PORT" \
  --backend="stubmesh.order.v1.OrderService=127.0.0.1:$ORDER_DIRECT_PORT" "${GW_FLAGS[@]}"
GW_PORT=$(wait_listening gateway)

GWGO_PORT=$(free_port)
# -orig-name=false: lowerCamelCase JSON, the same bytes as the gateway's.
start gwgo env "${GO_ENV[@]}" "$GWGO" -listen "127.0.0.1:$GWGO_PORT" \
  -backend "127.0.0.1:$USER_PORT" -orig-name=false
wait_port gwgo "$GWGO_PORT"

FLASK_PORT=$(free_port)
start flask env PORT="$FLASK_PORT" "$PY" "$BASELINES/flask_seed/user_service.py"
wait_port flask "$FLASK_PORT"

GW=http://127.0.0.1:$GW_PORT
GWGO_URL=http://127.0.0.1:$GWGO_PORT
FLASK=http://127.0.0.1:$FLASK_PORT

# Every HTTP system answers the request it will be loaded with.
check() {  # check NAME WANT URL [curl args]
  local name=$1 want=$2 url=$3 body code; shift 3
  body=$(curl -sS --max-time 5 -o - -w '\n%{http_code}' "$@" "$url" 2>&1) ||
    die "$name: $url: $body"
  code=${body##*$'\n'}; body=${body%$'\n'*}
  [ "$code" = 200 ] && [[ "$body" == *"$want"* ]] ||
    die "$name: $url answered $code $body (want 200 and $want)"
}
check gateway "\"id\":\"$USER_ID\"" "$GW/v1/users/$USER_ID"
check gateway "\"id\":\"$USER_ID\"" "$GW/user?id=$USER_ID"
check gateway '"email":"check-gw@example.com"' "$GW/v1/users" -X POST \
  -H 'Content-Type: application/json' -d '{"name":"Check","email":"check-gw@example.com"}'
check gwgo "\"id\":\"$USER_ID\"" "$GWGO_URL/v1/users/$USER_ID"
check gwgo '"email":"check-gwgo@example.com"' "$GWGO_URL/v1/users" -X POST \
  -H 'Content-Type: application/json' -d '{"name":"Check","email":"check-gwgo@example.com"}'
check flask "\"id\":\"$USER_ID\"" "$FLASK/user?id=$USER_ID"
log "user_svc :$USER_PORT  gateway :$GW_PORT  gwgo :$GWGO_PORT  flask :$FLASK_PORT  nghttpx :$NGHTTPX_PORT  order_svc direct :$ORDER_DIRECT_PORT via nghttpx :$ORDER_PROXY_PORT"

# --- loads ----------------------------------------------------------------------------------
RECORDS=$WORK/records.jsonl
CLK_TCK=$(getconf CLK_TCK)  # /proc/PID/stat counts CPU time in these
: > "$RECORDS"

# rss_sampler LOADPID OUT: the largest VmRSS (kB) of every system under test
# while LOADPID runs, as JSON. Reads /proc without forking per sample.
rss_sampler() {
  local load=$1 out=$2 name pid k v _ json=""
  declare -A max=()
  while kill -0 "$load" 2>/dev/null; do
    for name in "${!SUT_PID[@]}"; do
      pid=${SUT_PID[$name]}
      [ -r "/proc/$pid/status" ] || continue
      while read -r k v _; do
        if [ "$k" = VmRSS: ]; then
          [ "$v" -gt "${max[$name]:-0}" ] && max[$name]=$v
          break
        fi
      done < "/proc/$pid/status"
    done
    sleep 0.25
  done
  for name in "${!max[@]}"; do json+="${json:+,}\"$name\":${max[$name]}"; done
  echo "{$json}" > "$out"
}

# cpu_ticks PID: the CPU time (clock ticks) PID has used so far: utime and
# stime, fields 14 and 15 of /proc/PID/stat (the name in field 2 has no
# spaces); 0 once it is gone.
cpu_ticks() {
  local f
  read -r -a f < "/proc/$1/stat" 2>/dev/null || { echo 0; return; }
  echo $((f[13] + f[14]))
}

# sut_cpu_ticks: the CPU time every system under test has used, summed.
sut_cpu_ticks() {
  local pid total=0
  for pid in "${SUT_PID[@]}"; do total=$((total + $(cpu_ticks "$pid"))); done
  echo "$total"
}

# sut_cpu_json: each system under test's CPU time so far, as JSON
# ({"gateway": 1234, ...}).
sut_cpu_json() {
  local name json=""
  for name in "${!SUT_PID[@]}"; do
    [ -r "/proc/${SUT_PID[$name]}/stat" ] || continue  # gone: no figure
    json+="${json:+,}\"$name\":$(cpu_ticks "${SUT_PID[$name]}")"
  done
  echo "{$json}"
}

# settle: waits (at most 20 s) until the systems under test are idle, i.e.
# used at most 2 ticks in 0.5 s, so that a figure does not pay for work a
# previous load left behind. (Before the order_svc stopped tailing events
# here, they replayed the POST loads' UserCreated events for seconds, and a
# c=1 figure run during that showed p99 of 20+ ms.)
settle() {
  local start=$SECONDS before after
  while ((SECONDS - start < 20)); do
    before=$(sut_cpu_ticks)
    sleep 0.5
    after=$(sut_cpu_ticks)
    ((after - before <= 2)) && break
  done
  if ((SECONDS - start >= 2)); then
    log "waited $((SECONDS - start)) s for the systems under test to go idle"
  fi
}

# load FIGURE RUN: runs one figure once (from idle systems), appends a record.
# apart on|off: moves user_svc (every thread) to the load CPU and back. The
# *_apart figures run so: the gateway (or gwgo) alone on the SUT CPU, wrk
# and user_svc on the load CPU; the direct figure's grpc_load runs on the
# SUT CPU (the gateways idle there), so in both paths client and server are
# on separate cores, and the gateway does not share a core with its backend
# (each evicts the other's caches). wrk sharing the load CPU with user_svc
# is left as a cost to the gateway's path.
apart() {
  [ -n "$CPU_SUT" ] || return 0
  local cpu=$CPU_SUT
  [ "$1" = on ] && cpu=$CPU_LOAD
  taskset -apc "$cpu" "${SUT_PID[user_svc]}" > /dev/null
}

load() {
  local fig=$1 run=$2 spec tool system conc what raw pid
  if [[ "$fig" == *_apart ]]; then apart on; else apart off; fi
  [ "$MODE" = smoke ] || settle
  spec=${FIG[$fig]}
  read -r tool system conc what <<< "$spec"
  raw=$WORK/raw-$fig-run$run.txt
  case "$tool" in
    wrk)
      local threads=$WRK_THREADS post_env=()
      [ "$conc" -lt "$threads" ] && threads=$conc
      local url=$what
      if [[ "$what" == POST:* ]]; then
        url=${what#POST:}
        post_env=(WRK_POST_USERS="bench-$fig-$run-$$-$RANDOM")
      fi
      env "${post_env[@]}" wrk -t"$threads" -c"$conc" -d"${DURATION}s" --latency \
        -s "$HERE/wrk_report.lua" "$url" > "$raw" 2>&1 &
      ;;
    grpc)
      local target method extra
      IFS=, read -r target method extra <<< "$what"   # TARGET,METHOD[,FLAG]
      local pin=()
      [[ "$fig" == *_apart && -n "$CPU_SUT" ]] && pin=(taskset -c "$CPU_SUT")
      "${pin[@]}" "$GRPC_LOAD" --target="$target" --method="$method" --user_id="$USER_ID" \
        --concurrency="$conc" --duration="${DURATION}s" --label="$fig" ${extra:+"$extra"} \
        > "$raw" 2>&1 &
      ;;
  esac
  pid=$!
  sut_cpu_json > "$raw.cpu-before"
  rss_sampler "$pid" "$raw.rss" &
  local sampler=$!
  LOAD_PIDS=("$pid" "$sampler")
  local rc=0
  wait "$pid" || rc=$?
  sut_cpu_json > "$raw.cpu-after"
  wait "$sampler" || true
  LOAD_PIDS=()
  "$PY" "$HERE/report.py" record --figure "$fig" --run "$run" --tool "$tool" \
    --system "$system" --concurrency "$conc" --exit_code "$rc" --raw "$raw" \
    --rss "$raw.rss" --cpu_before "$raw.cpu-before" --cpu_after "$raw.cpu-after" \
    --clk_tck "$CLK_TCK" >> "$RECORDS"
  "$PY" "$HERE/report.py" brief --last "$RECORDS" >&2
}

# Figures: NAME -> "TOOL SYSTEM CONCURRENCY WHAT" (WHAT: a URL, POST:URL, or
# TARGET,METHOD[,FLAG] for grpc_load).
declare -A FIG=(
  [gw_get_v1_c32]="wrk gateway 32 $GW/v1/users/$USER_ID"
  [gwgo_get_v1_c32]="wrk gwgo 32 $GWGO_URL/v1/users/$USER_ID"
  [grpc_get_c32]="grpc user_svc 32 127.0.0.1:$USER_PORT,GetUser"
  [gw_get_user_c32]="wrk gateway 32 $GW/user?id=$USER_ID"
  [flask_get_user_c32]="wrk flask 32 $FLASK/user?id=$USER_ID"
  [gw_post_v1_c32]="wrk gateway 32 POST:$GW/v1/users"
  [gwgo_post_v1_c32]="wrk gwgo 32 POST:$GWGO_URL/v1/users"
  [gw_get_v1_c1]="wrk gateway 1 $GW/v1/users/$USER_ID"
  [gwgo_get_v1_c1]="wrk gwgo 1 $GWGO_URL/v1/users/$USER_ID"
  [flask_get_user_c1]="wrk flask 1 $FLASK/user?id=$USER_ID"
  [grpc_get_c1]="grpc user_svc 1 127.0.0.1:$USER_PORT,GetUser"
  [grpc_get_c1_plain]="grpc user_svc 1 127.0.0.1:$USER_PORT,GetUser,--mesh_less"
  [gw_get_v1_c1_apart]="wrk gateway 1 $GW/v1/users/$USER_ID"
  [gwgo_get_v1_c1_apart]="wrk gwgo 1 $GWGO_URL/v1/users/$USER_ID"
  [grpc_get_c1_apart]="grpc user_svc 1 127.0.0.1:$USER_PORT,GetUser"
  [hop_proxy_c1]="grpc nghttpx 1 127.0.0.1:$NGHTTPX_PORT,GetUser"
  [order_direct_c1]="grpc order_direct 1 127.0.0.1:$ORDER_DIRECT_PORT,CreateOrder"
  [order_proxy_c1]="grpc order_proxy 1 127.0.0.1:$ORDER_PROXY_PORT,CreateOrder"
  [order_direct_c32]="grpc order_direct 32 127.0.0.1:$ORDER_DIRECT_PORT,CreateOrder"
  [order_proxy_c32]="grpc order_proxy 32 127.0.0.1:$ORDER_PROXY_PORT,CreateOrder"
)
# Groups run back to back; the order inside a group is reversed on every
# other run (A B, then B A) so that drift cancels out of the ratios.
if [ "$MODE" = smoke ]; then
  FIG_GROUPS=(
    "gw_get_v1_c32 gwgo_get_v1_c32 flask_get_user_c32"
    "gw_post_v1_c32"
    "grpc_get_c1 hop_proxy_c1"
    "order_direct_c1 order_proxy_c1"
  )
else
  FIG_GROUPS=(
    "gw_get_v1_c32 gwgo_get_v1_c32 grpc_get_c32"
    "gw_get_user_c32 flask_get_user_c32"
    "gw_post_v1_c32 gwgo_post_v1_c32"
    "gw_get_v1_c1 gwgo_get_v1_c1 flask_get_user_c1"
    "grpc_get_c1 hop_proxy_c1 grpc_get_c1_plain"
    "gw_get_v1_c1_apart gwgo_get_v1_c1_apart grpc_get_c1_apart"
    "order_direct_c1 order_proxy_c1"
    "order_direct_c32 order_proxy_c32"
  )
fi
nfig=0
for g in "${FIG_GROUPS[@]}"; do for f in $g; do nfig=$((nfig + 1)); done; done

START_UTC=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
if [ "$MODE" != smoke ]; then
  log "warm-up: every system for 1 s (not recorded)"
  for f in gw_get_v1_c32 gwgo_get_v1_c32 flask_get_user_c32 grpc_get_c32 order_direct_c32 order_proxy_c32; do
    read -r tool _ conc what <<< "${FIG[$f]}"
    if [ "$tool" = wrk ]; then
      wrk -t"$WRK_THREADS" -c"$conc" -d1s "$what" > /dev/null 2>&1 || true
    else
      IFS=, read -r target method _ <<< "$what"
      "$GRPC_LOAD" --target="$target" --method="$method" --user_id="$USER_ID" \
        --concurrency="$conc" --duration=1s > /dev/null 2>&1 || true
    fi
  done
fi
log "$RUNS run(s) x $nfig figures x ${DURATION} s (about $((RUNS * nfig * (DURATION + 1))) s)"
for ((run = 1; run <= RUNS; run++)); do
  for g in "${FIG_GROUPS[@]}"; do
    read -r -a figs <<< "$g"
    if ((run % 2 == 0)); then
      for ((i = ${#figs[@]} - 1; i >= 0; i--)); do load "${figs[$i]}" "$run"; done
    else
      for f in "${figs[@]}"; do load "$f" "$run"; done
    fi
  done
done

apart off
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Every system is still up after the loads.
for name in "${!SUT_PID[@]}"; do
  kill -0 "${SUT_PID[$name]}" 2>/dev/null || failed_start "$name" "died during the loads"
done

# --- report ---------------------------------------------------------------------------------
if [ -z "$OUT_DIR" ]; then
  # A smoke's report is printed below and goes with the work dir.
  if [ "$MODE" = smoke ]; then OUT_DIR=$WORK; else OUT_DIR=$HERE/results; fi
fi
mkdir -p "$OUT_DIR"
prefix=$OUT_DIR/$STAMP
versions() {
  printf '%s' "wrk $(wrk -v 2>&1 | sed -n '1s/^wrk \([^ ]*\).*/\1/p'); "
  printf '%s' "$(nghttpx --version | head -n1); "
  printf '%s' "$(go version | sed 's/^go version //'); "
  printf '%s' "Flask $("$PY" -c 'import importlib.metadata as m; print(m.version("flask"))' 2>/dev/null); "
  printf '%s' "grpc-gateway $(dpkg-query -W -f='${Version}' golang-github-grpc-ecosystem-grpc-gateway-dev 2>/dev/null)"
}
"$PY" "$HERE/report.py" report --records "$RECORDS" --mode "$MODE" \
  --json "$prefix.json" --markdown "$prefix.md" \
  --meta "command=bench/run.sh${ARGS_GIVEN:+ $ARGS_GIVEN}" \
  --meta "started=$START_UTC" \
  --meta "runs=$RUNS" --meta "duration_s=$DURATION" \
  --meta "nproc=$NCPU" \
  --meta "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" \
  --meta "kernel=$(uname -sr)" \
  --meta "pinning=$PIN_DESC" \
  --meta "loadavg=$LOAD_BEFORE just before the loads (other work on the machine); $LOAD_AFTER after them (the loads themselves keep both CPUs busy)" \
  --meta "http_servers=$HTTP_DESC" \
  --meta "servers=user_svc and order_svc with ${SERVER_FLAGS[*]}; SQLite in $DB_DIR ($DB_FS)" \
  --meta "git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo ' (with local changes)')" \
  --meta "tools=$(versions)" "${MICRO_ARGS[@]}"
if [ "$OUT_DIR" = "$WORK" ] && [ "$KEEP" = 0 ]; then
  log "report (not kept; --out DIR or --keep keeps it):"
else
  log "report: $prefix.md and $prefix.json"
fi
cat "$prefix.md"

if [ "$MODE" = smoke ]; then
  "$PY" "$HERE/report.py" smoke_check --records "$RECORDS" --expect "$nfig" || { FAILED=1; exit 1; }
fi
FAILED=0
