#!/bin/bash
# Runs the Python client tests (generated stubs, reflection, the REST
# gateway end to end) against the user_svc, order_svc, echo_backend and
# gateway binaries.
#
# Under `bazel test //tests/python:python_client_test` the working directory
# is the runfiles root, where the data deps live at user_svc/user_svc,
# order_svc/order_svc, gateway/gateway, gateway/testdata/echo_backend,
# protos/ (with protos/descriptor_set.pb) and
# gateway/testdata/transcoding_descriptor_set.pb. Run by hand from anywhere
# in a checkout, it uses bazel-bin/ and protos/ of that checkout (build those
# targets first). STUBMESH_USER_SVC, STUBMESH_ORDER_SVC, STUBMESH_PROTOS,
# STUBMESH_GATEWAY, STUBMESH_ECHO_BACKEND, STUBMESH_DESCRIPTOR_SET and
# STUBMESH_TRANSCODING_DESCRIPTOR_SET override.
set -euo pipefail

PYTHON=${STUBMESH_PYTHON:-/usr/bin/python3}

if [[ -n "${TEST_SRCDIR:-}" ]]; then
  root="${TEST_SRCDIR}/${TEST_WORKSPACE:-stubmesh}"
  bin="${root}"
else
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  bin="${root}/bazel-bin"
fi

export STUBMESH_USER_SVC="${STUBMESH_USER_SVC:-${bin}/user_svc/user_svc}"
export STUBMESH_ORDER_SVC="${STUBMESH_ORDER_SVC:-${bin}/order_svc/order_svc}"
export STUBMESH_PROTOS="${STUBMESH_PROTOS:-${root}/protos}"
export STUBMESH_GATEWAY="${STUBMESH_GATEWAY:-${bin}/gateway/gateway}"
export STUBMESH_ECHO_BACKEND="${STUBMESH_ECHO_BACKEND:-${bin}/gateway/testdata/echo_backend}"
export STUBMESH_DESCRIPTOR_SET="${STUBMESH_DESCRIPTOR_SET:-${bin}/protos/descriptor_set.pb}"
export STUBMESH_TRANSCODING_DESCRIPTOR_SET="${STUBMESH_TRANSCODING_DESCRIPTOR_SET:-${bin}/gateway/testdata/transcoding_descriptor_set.pb}"
export STUBMESH_README="${STUBMESH_README:-${root}/README.md}"
export STUBMESH_PYTHON="${PYTHON}"
# Keep the tests' imports and bytecode to themselves: no user site, no
# __pycache__ in the runfiles or source tree.
export PYTHONNOUSERSITE=1
export PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="${root}/tests/python"

for f in "${STUBMESH_USER_SVC}" "${STUBMESH_ORDER_SVC}" "${STUBMESH_GATEWAY}" \
         "${STUBMESH_ECHO_BACKEND}"; do
  if [[ ! -x "$f" ]]; then
    echo "missing server binary: $f (bazel build //user_svc:user_svc //order_svc:order_svc" \
         "//gateway:gateway //gateway/testdata:echo_backend)" >&2
    exit 1
  fi
done
for f in "${STUBMESH_DESCRIPTOR_SET}" "${STUBMESH_TRANSCODING_DESCRIPTOR_SET}"; do
  if [[ ! -f "$f" ]]; then
    echo "missing descriptor set: $f (bazel build //protos:descriptor_set" \
         "//gateway/testdata:transcoding_descriptor_set)" >&2
    exit 1
  fi
done

cd "${root}/tests/python"
if [[ $# -eq 0 ]]; then set -- generated_stubs_test reflection_test gateway_e2e_test; fi
exec "${PYTHON}" -m unittest -v "$@"
