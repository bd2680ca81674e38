#!/usr/bin/env bash
# Fills deploy/k8s/overlays/example/secrets (git-ignored) from this checkout's development
# certificates and role passwords, for `kubectl apply -k deploy/k8s/overlays/example`.
#   DATABASE_ADMIN_URL=postgres://postgres:…@postgres:5432/postgres deploy/scripts/collect-secrets.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/deploy/k8s/overlays/example/secrets"
install -d -m 0700 "$out"
for name in ca.crt source.crt source.key consumer.crt consumer.key consumer-client.crt consumer-client.key jwt-public.pem; do
  install -m 0600 "$root/certs/$name" "$out/$name"
done
for role in source_app relay_app consumer_app tenant_operator; do
  install -m 0600 "$root/.local/secrets/$role.password" "$out/$role.password"
done
printf '%s' "${DATABASE_ADMIN_URL:?the superuser URL the migration Job connects with}" > "$out/database-admin-url"
chmod 0600 "$out/database-admin-url"
echo "secrets collected in $out"
