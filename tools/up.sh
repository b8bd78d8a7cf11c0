#!/usr/bin/env bash
# Brings stubmesh up on this machine: installs what is missing, builds, and
# runs user_svc, order_svc and the REST gateway on loopback, with SQLite
# files under var/. Prints where to reach them; Ctrl-C stops everything
# gracefully.
#
#   tools/up.sh          # ports 8080 (REST), 50051 (users), 50052 (orders)
#   GATEWAY_PORT=0 USER_PORT=0 ORDER_PORT=0 tools/up.sh   # any free ports
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

tools/install-deps.sh
bazel build //user_svc:user_svc //order_svc:order_svc //gateway:gateway \
  //protos:descriptor_set
bin=$(bazel info bazel-bin 2>/dev/null)

state=${STUBMESH_STATE:-$root/var}
mkdir -p "$state/log"
pids=()

stopping=0
stop_all() {
  stopping=1
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stubmesh: stopped"
}
trap stop_all INT TERM EXIT

# start NAME PACKAGE ARGS...: starts bazel-bin/PACKAGE/NAME; sets $addr
# once it reports that it is listening.
start() {
  local name=$1
  local out="$state/log/$name.out"
  : >"$out"
  "$bin/$2/$name" "${@:3}" >"$out" 2>"$state/log/$name.log" &
  pids+=($!)
  local pid=$!
  for _ in $(seq 1 300); do
    local line
    line=$(grep -m1 " listening on " "$out" || true)
    if [ -n "$line" ]; then addr=${line##* }; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "stubmesh: $name did not start; its log:" >&2
  cat "$state/log/$name.log" >&2
  return 1
}

start user_svc user_svc --port="${USER_PORT:-50051}" --db="$state/users.db"
user_addr=$addr
start order_svc order_svc --port="${ORDER_PORT:-50052}" \
  --db="$state/orders.db" --user_service="$user_addr"
order_addr=$addr
start gateway gateway --port="${GATEWAY_PORT:-8080}" \
  --descriptor_set="$bin/protos/descriptor_set.pb" \
  --backend=stubmesh.user.v1.UserService="$user_addr" \
  --backend=stubmesh.order.v1.OrderService="$order_addr"
gateway_addr=$addr

cat <<MSG
stubmesh is up (data in $state, logs in $state/log):
  REST gateway  http://$gateway_addr   (/v1/users, /v1/orders, /user, /order, /healthz, /readyz, /metrics)
  UserService   grpc://$user_addr   (stubmesh.user.v1.UserService, health, reflection)
  OrderService  grpc://$order_addr   (stubmesh.order.v1.OrderService, health, reflection)
Try:
  curl -X POST 'http://$gateway_addr/user' -d 'name=Ada&email=ada@example.com'
  curl 'http://$gateway_addr/user?id=1'
  curl -X POST http://$gateway_addr/v1/orders -H 'Content-Type: application/json' \\
      -d '{"userId": "1", "items": [{"sku": "BOOK-1", "quantity": 2, "unitPriceCents": 1250}]}'
  grpcurl -plaintext $user_addr list
  grpcurl -plaintext -d '{"user": {"name": "Ada", "email": "ada@example.com"}}' \\
      $user_addr stubmesh.user.v1.UserService/CreateUser
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}" || true
if [ "$stopping" = 0 ]; then
  echo "stubmesh: a service exited; stopping the others (logs in $state/log)" >&2
  stop_all
  exit 1
fi
