#!/usr/bin/env bash
# Installs every Debian package stubmesh needs to build, run and test. Idempotent:
# packages already present are skipped, so a warm machine pays only a dpkg query.
set -euo pipefail

packages=(
  # Build: Bazel 4.2.3 and its Java rules, offline.
  bazel-bootstrap bazel-rules-java bazel-platforms
  build-essential pkg-config
  # gRPC, protobuf, Abseil, GoogleTest, SQLite (Debian builds).
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev grpc-proto libsqlite3-dev
  # PostgreSQL: libpq for storage/postgres_database, and the server the
  # storage tests start in a temp dir (storage/postgres_test_server.h).
  libpq-dev postgresql
  # The gateway and metrics; OpenSSL for mTLS, the gateway's TLS listener
  # and JWT checks (the openssl CLI for tools/dev-ca.sh and the tests).
  libboost-dev prometheus-cpp-dev libssl-dev openssl
  # tcmalloc for the gateway (bench/RESULTS.md: -10% CPU per request).
  libgoogle-perftools-dev
  # Monitoring checks: promtool (deploy/check_monitoring.sh).
  prometheus
  # Benchmarks (bench/): load tools, the sidecar stand-in, and what the
  # baselines in ../shared/baselines build and run with.
  wrk nghttp2-proxy python3-flask golang-go
  golang-github-grpc-ecosystem-grpc-gateway-dev golang-grpc-gateway
  golang-goprotobuf-dev protoc-gen-go-1-3
  # Micro-benchmarks (bench/micro, Google Benchmark).
  libbenchmark-dev
  # Tests: a Python client generated from protos/, curl, the sqlite3 CLI.
  python3-grpcio python3-grpc-tools curl sqlite3
  # Gateway security tests: JWTs signed by PyJWT (RS256 needs cryptography).
  python3-jwt python3-cryptography
  # Fuzzing (tools/fuzz.sh, --config=fuzz): clang, libFuzzer and the
  # sanitizer runtimes, llvm-symbolizer for readable reports.
  clang-14 libclang-rt-14-dev llvm-14
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} Debian packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The storage tests start their own PostgreSQL server from these binaries
# (as root they run it as the `postgres` user that postgresql-common creates).
pg_server=$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_server" ] || [ ! -x "$(dirname "$pg_server")/initdb" ]; then
  echo "install-deps: no PostgreSQL server under /usr/lib/postgresql/*/bin" >&2
  exit 1
fi
echo "install-deps: $("$pg_server" --version) at $(dirname "$pg_server")"

# The OpenAPI validator the tests use (npm registry; Node.js 20 is on the
# machine). Reinstalled only when the lock file changed.
root=$(cd "$(dirname "$0")/.." && pwd)
openapi="$root/tests/openapi"
stamp="$openapi/node_modules/.stubmesh-lock"
if ! cmp -s "$openapi/package-lock.json" "$stamp" 2>/dev/null; then
  if ! command -v npm >/dev/null; then
    echo "install-deps: npm is missing (Node.js 20 or later is needed)" >&2
    exit 1
  fi
  echo "install-deps: installing the OpenAPI validator (npm ci)"
  npm ci --prefix "$openapi" --no-audit --no-fund --loglevel=error
  cp "$openapi/package-lock.json" "$stamp"
fi
