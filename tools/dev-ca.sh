#!/usr/bin/env bash
# Makes a development CA and per-process certificates for stubmesh's mTLS,
# with Debian's openssl (EC P-256 keys).
#
#   tools/dev-ca.sh DIR [NAME...]
#
# DIR/ca.crt and DIR/ca.key: the CA, made once (kept when present, so that
# more names can be added later). For each NAME (default: user_svc order_svc
# gateway launcher), DIR/NAME.crt and DIR/NAME.key, valid for client and
# server use, with the SANs
#   URI:spiffe://$STUBMESH_TRUST_DOMAIN/svc/NAME   the identity (default
#                                                   trust domain stubmesh.local)
#   DNS:localhost, IP:127.0.0.1, IP:::1            so that clients can verify
#                                                   servers on loopback
# Extra SANs for every NAME: STUBMESH_EXTRA_SANS="DNS:users.internal,IP:10.0.0.5".
# Certificates last STUBMESH_CERT_DAYS days (default 30). For development
# and tests only: the CA key lies beside the certificates.
set -euo pipefail

if [[ $# -lt 1 || "$1" == -* ]]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
dir=$1
shift
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(user_svc order_svc gateway launcher)
domain=${STUBMESH_TRUST_DOMAIN:-stubmesh.local}
days=${STUBMESH_CERT_DAYS:-30}

command -v openssl >/dev/null || {
  echo "dev-ca.sh: openssl not found (apt-get install openssl)" >&2
  exit 1
}
for name in "${names[@]}"; do
  if [[ ! "$name" =~ ^[A-Za-z0-9_.-]+$ ]]; then
    echo "dev-ca.sh: '$name': a name is letters, digits, '_', '-' and '.'" >&2
    exit 2
  fi
done

mkdir -p "$dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ! -f "$dir/ca.crt" || ! -f "$dir/ca.key" ]]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" -days "$((days + 1))" \
    -subj "/O=stubmesh development/CN=stubmesh development CA ($domain)" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>"$work/err" || {
    cat "$work/err" >&2
    exit 1
  }
fi

for name in "${names[@]}"; do
  sans="URI:spiffe://$domain/svc/$name,DNS:localhost,IP:127.0.0.1,IP:::1"
  [[ -z "${STUBMESH_EXTRA_SANS:-}" ]] || sans="$sans,$STUBMESH_EXTRA_SANS"
  cat >"$work/ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$sans
EXT
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$work/$name.key" -out "$work/$name.csr" \
    -subj "/O=stubmesh development/CN=$name" 2>"$work/err" &&
    openssl x509 -req -in "$work/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
      -extfile "$work/ext" -out "$work/$name.crt" 2>"$work/err" || {
    cat "$work/err" >&2
    exit 1
  }
  # Replaced whole, so that a process watching the files never reads half.
  mv "$work/$name.key" "$dir/$name.key"
  mv "$work/$name.crt" "$dir/$name.crt"
  echo "dev-ca.sh: $dir/$name.crt ($dir/$name.key): spiffe://$domain/svc/$name"
done
