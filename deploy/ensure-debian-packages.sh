#!/usr/bin/env bash
# Install the Debian/Ubuntu packages named as arguments when they are missing.
#   deploy/ensure-debian-packages.sh redis-server chromium chromium-driver
# Uses apt-get as root, or sudo when it works without a password. Set
# PTRACKER_NO_APT=1 to never install (it then only reports what is missing).
set -euo pipefail

missing=()
for pkg in "$@"; do
  if command -v dpkg-query >/dev/null 2>&1; then
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] && continue
  fi
  missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "${PTRACKER_NO_APT:-0}" = "1" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them with your package manager (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "missing system packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
