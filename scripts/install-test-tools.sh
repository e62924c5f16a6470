#!/usr/bin/env bash
# Installs, from Debian's packages, every real tool the tests run against nodegen's output.
# Idempotent: a second run installs nothing and exits quickly. Services that the packages would
# start (etcd, haproxy, keepalived) are kept from starting: the tests start their own instances.
set -euo pipefail

PACKAGES=(
  cloud-init ignition policycoreutils shellcheck openssl
  etcd-server etcd-client haproxy keepalived
  packer xorriso genisoimage cloud-image-utils
  qemu-system-x86 qemu-utils ipxe-qemu debootstrap e2fsprogs dnsmasq-base
  python3-yaml python3-jsonschema iproute2 curl gzip zstd strace firewalld
  containerd runc apt-utils gcc libc6-dev dpkg-dev ufw
  skopeo docker-registry gpg gpgv
  dnf createrepo-c rpm
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "test tools: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

echo "test tools: installing ${missing[*]}"
# Keep maintainer scripts from starting daemons on the build machine.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 0755 "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "test tools: installed ${#missing[@]} packages"
