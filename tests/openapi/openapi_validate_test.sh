#!/bin/bash
# Generates the gateway's OpenAPI document for every descriptor set the tests
# have (with JSON and with proto field names) and runs a real OpenAPI
# validator on it (validate_openapi.js, @readme/openapi-parser from npm).
#
# node_modules is not a runfile: it lives beside package.json in the source
# tree, installed by `npm ci --prefix tests/openapi` (tools/install-deps.sh).
# The source tree is found through the package.json runfile's symlink;
# STUBMESH_OPENAPI_DIR overrides (a directory holding node_modules).
set -euo pipefail

runfiles="${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-stubmesh}"
[[ -d "${runfiles}/tests/openapi" ]] || runfiles="."
dump="${runfiles}/tests/openapi/openapi_dump"
sets=(
  "${runfiles}/protos/descriptor_set.pb"
  "${runfiles}/gateway/testdata/transcoding_descriptor_set.pb"
)
out="${TEST_TMPDIR:-$(mktemp -d)}"

die() {
  echo "openapi_validate_test: $*" >&2
  exit 1
}

src="${STUBMESH_OPENAPI_DIR:-$(dirname "$(readlink -f "${runfiles}/tests/openapi/package.json")")}"
node_bin="$(command -v node || true)"
[[ -n "${node_bin}" ]] ||
  die "node is not installed (Node.js 20 or later; see tools/install-deps.sh)"
if [[ ! -f "${src}/node_modules/@readme/openapi-parser/package.json" ]]; then
  die "no ${src}/node_modules: install the validator with
    npm ci --prefix tests/openapi
from the repository root (tools/install-deps.sh does it)"
fi
# An install older than package-lock.json would test with another validator.
"${node_bin}" -e '
  const [dir] = process.argv.slice(1);
  const want = require(dir + "/package-lock.json")
      .packages["node_modules/@readme/openapi-parser"].version;
  const have = require(dir + "/node_modules/@readme/openapi-parser/package.json").version;
  if (want !== have) {
    console.error(`@readme/openapi-parser ${have} is installed, package-lock.json wants ${want}: run npm ci --prefix tests/openapi`);
    process.exit(1);
  }' "${src}" || exit 1

[[ -x "${dump}" ]] || die "missing ${dump}"
for f in "${sets[@]}"; do [[ -f "$f" ]] || die "missing descriptor set $f"; done

status=0
check() {  # name, dump flags...
  local name="$1"
  shift
  "${dump}" "$@" "${sets[@]}" >"${out}/${name}.json" ||
    die "openapi_dump $* failed"
  if "${node_bin}" "${src}/validate_openapi.js" "${out}/${name}.json"; then
    echo "PASS ${name}"
  else
    echo "FAIL ${name}"
    status=1
  fi
}

check json_names
check proto_names --proto_names --enums_as_ints --title="stubmesh test" \
  --version=2

# Same catalog, same bytes: the document may be cached and diffed.
"${dump}" "${sets[@]}" >"${out}/again.json"
if cmp -s "${out}/json_names.json" "${out}/again.json"; then
  echo "PASS deterministic"
else
  echo "FAIL deterministic: two runs printed different documents"
  status=1
fi

exit "${status}"
