#!/usr/bin/env bash
# `make image-test`: build (or reuse) the image with buildah and start it for real
# (deploy/image/image_test.py says how). Needs root; installs buildah, debootstrap and
# redis-server through deploy/ensure-debian-packages.sh when they are missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "image-test: needs root (debootstrap, mount namespaces, chroot); run it as root or with sudo" >&2
  exit 1
fi
"$HERE/../ensure-debian-packages.sh" buildah debootstrap redis-server util-linux
# one build-and-test at a time on this machine (they share the image tag)
exec 8>/run/lock/ptracker-image-test.lock
if ! flock -n 8; then
  echo "image-test: another image test is running; waiting for it"
  flock 8
fi
exec python3 "$HERE/image_test.py" "$@"
