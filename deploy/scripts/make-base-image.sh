#!/usr/bin/env bash
# Makes a Debian 12 base image from Debian's own archive with debootstrap, for machines that can
# reach apt but no container registry. Does nothing when the image exists.
#   deploy/scripts/make-base-image.sh [image-name]   (default localhost/debian-base:bookworm)
set -euo pipefail
image=${1:-localhost/debian-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if podman image exists "$image"; then
  echo "$image exists"
  exit 0
fi
rootfs=$(mktemp -d /var/tmp/debian-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
timeout 900 debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["/bin/bash"]' - "$image"
echo "$image made"
