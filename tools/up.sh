#!/usr/bin/env bash
# Brings stubmesh up on this machine: installs what is missing, builds, and
# runs the local topology (deploy/local/topology.json) under the launcher:
# two user_svc replicas and one order_svc behind the REST gateway, on
# 127.0.0.1, with SQLite files and logs under var/. Prints where everything
# is; a replica that dies is restarted; Ctrl-C stops everything gracefully.
#
#   tools/up.sh                      # ports 8080 (REST), 50051/50061 (users), 50052 (orders)
#   tools/up.sh --free_ports         # any free ports (beside another copy)
#   tools/up.sh --mtls               # mTLS between the processes, with per-method
#                                    # authorization (deploy/local/topology-mtls.json);
#                                    # development certificates in <state>/certs
#   STUBMESH_STATE=/tmp/s tools/up.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
topology=deploy/local/topology.json
state="${STUBMESH_STATE:-$PWD/var}"
args=()
for arg in "$@"; do
  if [[ "$arg" == "--mtls" ]]; then
    topology=deploy/local/topology-mtls.json
    # Made once; delete the directory for new ones.
    [[ -f "$state/certs/ca.crt" ]] || tools/dev-ca.sh "$state/certs"
    args+=("--tls_dir=$state/certs")
  else
    args+=("$arg")
  fi
done

bazel build //user_svc:user_svc //order_svc:order_svc //gateway:gateway \
  //protos:descriptor_set //launcher:launcher
bin=$(bazel info bazel-bin 2>/dev/null)

exec "$bin/launcher/launcher" --topology="$topology" \
  --bin_dir="$bin" --state_dir="$state" ${args[@]+"${args[@]}"}
