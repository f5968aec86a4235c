#!/usr/bin/env bash
# Build deploy/Dockerfile with buildah (no Docker engine, no daemon) into a local image.
#   deploy/image/build.sh [IMAGE]        (default localhost/ptracker:test; from any directory)
# The Dockerfile is the one users build with Docker, unchanged. Its base image
# (python:3.11-slim-bookworm) is used from buildah's local storage when present, else
# pulled; when it cannot be pulled (no registry reachable), a stand-in is built from
# Debian packages by deploy/image/standin.sh and tagged with the base's name, so the FROM
# lines resolve locally. The build then never pulls (--pull=never) and keeps buildah's
# layer cache (--layers), so a second build with unchanged inputs takes seconds.
# Set PTRACKER_STANDIN=1 to skip the pull attempt and use (or build) the stand-in.
# Behind a TLS-inspecting proxy, pip in the build needs the proxy's CA: the host's CA bundle
# (PTRACKER_BUILD_CA, default /etc/ssl/certs/ca-certificates.crt) is bind-mounted read-only
# over the image's during the RUN steps only; it is not written into any layer.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
IMAGE=${1:-localhost/ptracker:test}
DOCKERFILE="$ROOT/deploy/Dockerfile"

"$ROOT/deploy/ensure-debian-packages.sh" buildah debootstrap
log=$(mktemp "${TMPDIR:-/tmp}/ptracker-build.XXXXXX")  # kept when the build fails
trap 'rm -f "$log.pull"' EXIT

# the base image, as the Dockerfile names it (both stages use the same one)
bases=$(awk 'toupper($1) == "FROM" && $2 !~ /^(build|scratch)$/ {print $2}' "$DOCKERFILE" | sort -u)
[ "$(wc -l <<<"$bases")" -eq 1 ] || { echo "build.sh: expected one base image in $DOCKERFILE, got: $bases" >&2; exit 1; }
case "$bases" in
  */*/*) base=$bases ;;
  */*) base=docker.io/$bases ;;
  *) base=docker.io/library/$bases ;;
esac

# one base check (and stand-in build) at a time on this machine
exec 9>/run/lock/ptracker-image-base.lock
flock 9
standin_stamp=$(sha256sum "$HERE/standin.sh" | cut -c1-16)
have_label=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "org.ptracker.standin"}}' "$base" 2>/dev/null || echo missing)
if [ "$have_label" = "missing" ]; then
  if [ "${PTRACKER_STANDIN:-0}" != "1" ] && timeout 300 buildah pull --quiet --retry 0 "$base" >/dev/null 2>"$log.pull"; then
    echo "base: pulled $base"
  else
    [ "${PTRACKER_STANDIN:-0}" = "1" ] || echo "base: cannot pull $base: $(tail -1 "$log.pull")"
    echo "base: building a STAND-IN for $base from Debian bookworm packages (deploy/image/standin.sh)"
    "$HERE/standin.sh" "$base" 2>&1
  fi
elif [ -z "$have_label" ]; then
  echo "base: $base from local storage (a pulled image)"
elif [ "$have_label" = "$standin_stamp" ]; then
  echo "base: STAND-IN for $base, cached in buildah storage (built by deploy/image/standin.sh from Debian packages)"
else
  echo "base: STAND-IN for $base is out of date (standin.sh changed); rebuilding it"
  "$HERE/standin.sh" "$base" 2>&1
fi

flock -u 9
echo "build: buildah bud -f deploy/Dockerfile -t $IMAGE (chroot isolation, --layers, --pull=never)"
ca=${PTRACKER_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
mounts=()
[ -f "$ca" ] && mounts=(--volume "$ca:/etc/ssl/certs/ca-certificates.crt:ro")
start=$(date +%s)
buildah bud --isolation chroot --layers --pull=never --force-rm "${mounts[@]}" \
  -f "$DOCKERFILE" -t "$IMAGE" "$ROOT" > "$log" 2>&1 \
  || { tail -40 "$log" >&2; echo "build: FAILED (full log: $log)" >&2; exit 1; }
cached=$(grep -c -- '--> Using cache' "$log" || true)
steps=$(grep 'STEP [0-9]' "$log" | grep -vc ': FROM ' || true)
rm -f "$log"
echo "build: $IMAGE built in $(( $(date +%s) - start )) s ($cached of $steps steps from the layer cache), $(buildah images --format '{{.Size}}' --filter reference="$IMAGE" | head -1)"
