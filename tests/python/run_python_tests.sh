#!/bin/bash
# Runs the Python client tests (generated stubs, reflection) against the
# user_svc and order_svc binaries.
#
# Under `bazel test //tests/python:python_client_test` the working directory
# is the runfiles root, where the data deps live at user_svc/user_svc,
# order_svc/order_svc and protos/. Run by hand from anywhere in a checkout,
# it uses bazel-bin/ and protos/ of that checkout (build the servers first).
# STUBMESH_USER_SVC, STUBMESH_ORDER_SVC and STUBMESH_PROTOS override.
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
export STUBMESH_PYTHON="${PYTHON}"
# Keep the tests' imports and bytecode to themselves: no user site, no
# __pycache__ in the runfiles or source tree.
export PYTHONNOUSERSITE=1
export PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="${root}/tests/python"

for f in "${STUBMESH_USER_SVC}" "${STUBMESH_ORDER_SVC}"; do
  if [[ ! -x "$f" ]]; then
    echo "missing server binary: $f (bazel build //user_svc:user_svc //order_svc:order_svc)" >&2
    exit 1
  fi
done

cd "${root}/tests/python"
exec "${PYTHON}" -m unittest -v generated_stubs_test reflection_test
