#!/usr/bin/env bash
# Build a local stand-in for the Dockerfile's base image, python:3.11-slim-bookworm, from
# Debian's own packages (debootstrap), for machines that cannot pull from docker.io.
#   deploy/image/standin.sh [IMAGE]      (default docker.io/library/python:3.11-slim-bookworm)
# What it matches in the real base: Debian 12 (bookworm) minbase, Python 3.11 (Debian's
# python3 is 3.11) with venv/ensurepip, `python` on PATH, ca-certificates, netbase, tzdata,
# LANG=C.UTF-8, apt sources on deb.debian.org (bookworm, -updates, -security), and the
# slim images' dpkg filter (no docs, man pages or locales) and apt settings (no .deb cache). It is labelled
# org.ptracker.standin=<hash of this script> so build.sh can tell it from a pulled image
# and rebuild it when this script changes. Needs root, debootstrap and buildah.
set -euo pipefail

IMAGE=${1:-docker.io/library/python:3.11-slim-bookworm}
MIRROR=${PTRACKER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HERE=$(cd "$(dirname "$0")" && pwd)
STAMP=$(sha256sum "$HERE/standin.sh" | cut -c1-16)

[ "$(id -u)" -eq 0 ] || { echo "standin.sh: debootstrap needs root" >&2; exit 1; }
"$HERE/../ensure-debian-packages.sh" debootstrap buildah

work=$(mktemp -d /var/tmp/ptracker-standin.XXXXXX)
ctr=""
cleanup() {
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
root="$work/rootfs"

# The slim images' filter, in place before any package is unpacked.
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat > "$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG

echo "stand-in: debootstrap bookworm (minbase + python3, python3-venv) from $MIRROR" >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,netbase,tzdata \
  bookworm "$root" "$MIRROR" > "$work/debootstrap.log" 2>&1 \
  || { tail -30 "$work/debootstrap.log" >&2; exit 1; }

# apt sources as in Debian's images, so the Dockerfile's apt-get works unchanged
rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
# apt settings of Debian's docker images: no .deb cache, no translations, gzipped lists
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' > "$root/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
# `python` on PATH, as the real image has it (its pip is not needed: the Dockerfile uses
# the venv's own pip)
ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
# what the slim images clear
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/log/* "$root"/usr/share/doc/*/[!c]* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
  "$root"/tmp/* "$root"/var/tmp/* 2>/dev/null || true
echo "" > "$root/etc/resolv.conf"
echo "" > "$root/etc/hostname"

version=$(chroot "$root" python --version | cut -d' ' -f2)
echo "stand-in: Python $version" >&2
case "$version" in 3.11.*) ;; *) echo "stand-in: expected Python 3.11, got $version" >&2; exit 1 ;; esac

ctr=$(buildah from scratch)
mnt=$(buildah mount "$ctr")
tar -C "$root" -cf - . | tar -C "$mnt" -xpf - --numeric-owner
buildah umount "$ctr" >/dev/null
buildah config \
  --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 --env PYTHON_VERSION="$version" \
  --cmd python3 --os linux --arch "$(dpkg --print-architecture)" \
  --label org.ptracker.standin="$STAMP" \
  --label org.opencontainers.image.description="stand-in for python:3.11-slim-bookworm built by deploy/image/standin.sh from Debian bookworm packages" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$IMAGE" >/dev/null
ctr=""
echo "stand-in: tagged $IMAGE ($(buildah images --format '{{.Size}}' --filter reference="$IMAGE" | head -1))" >&2
