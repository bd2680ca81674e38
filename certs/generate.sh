#!/usr/bin/env bash
# Creates the development PKI under certs/: one CA shared by every service, the server
# certificate of the source's listeners, the consumer's server certificate for :8002
# (serverAuth only), the consumer's client identity for :8441 (clientAuth only, its SPIFFE ID
# in a URI SAN) and the JWT signing key pair. Two certificates, not one: whoever terminates
# TLS for :8002 must not hold the credential that reads every tenant on :8441.
# Existing files that are still valid for 30 days and were made for the same name, SANs and
# usage are kept, so running it twice is harmless. Private keys are written with mode 0600.
set -euo pipefail
cd "$(dirname "$0")"
umask 077

days=${CERT_DAYS:-825}

valid() { [ -f "$1" ] && openssl x509 -in "$1" -noout -checkend $((30 * 86400)) >/dev/null 2>&1; }

if ! valid ca.crt || [ ! -f ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
    -subj "/O=tenant-sync/CN=tenant-sync development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca.key -out ca.crt 2>/dev/null
  rm -f source.crt consumer.crt consumer-client.crt
  echo "created ca.crt"
fi

# issue NAME CN SUBJECT_ALT_NAMES EXTENDED_KEY_USAGE
issue() {
  local name=$1 cn=$2 san=$3 eku=$4
  local profile="$cn|$san|$eku"
  if valid "$name.crt" && [ -f "$name.key" ] && [ "$(cat "$name.profile" 2>/dev/null)" = "$profile" ] &&
    openssl verify -CAfile ca.crt "$name.crt" >/dev/null 2>&1; then
    return
  fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -subj "/O=tenant-sync/CN=$cn" -keyout "$name.key" -out "$name.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$eku" "$san" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
  printf '%s' "$profile" > "$name.profile"
  echo "created $name.crt ($cn, $eku)"
}

issue source source "DNS:localhost,DNS:source,IP:127.0.0.1,IP:::1" serverAuth
issue consumer consumer "DNS:localhost,DNS:consumer,IP:127.0.0.1,IP:::1" serverAuth
issue consumer-client consumer "URI:spiffe://tenant-sync.local/consumer" clientAuth
# The console's server certificate (:8003), and the development operator's client identity,
# which opens the console's operator view (CONSOLE_OPERATORS); it is no tenant token.
issue console console "DNS:localhost,DNS:console,IP:127.0.0.1,IP:::1" serverAuth
issue operator-client operator "URI:spiffe://tenant-sync.local/operator" clientAuth

if [ ! -f jwt-private.pem ] || [ ! -f jwt-public.pem ]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out jwt-private.pem 2>/dev/null
  openssl pkey -in jwt-private.pem -pubout -out jwt-public.pem 2>/dev/null
  echo "created jwt-private.pem / jwt-public.pem (ES256)"
fi

chmod 600 ./*.key jwt-private.pem
chmod 644 ./*.crt ./*.profile jwt-public.pem
echo "certificates in $(pwd) are valid"
