#!/usr/bin/env bash
# Builds a Debian 12 test VM image: debootstrap + systemd + cloud-init + kernel, written to a raw
# ext4 disk with `mkfs.ext4 -d` (no loop mounts). Cached: rebuilt only when this script or the
# stand-ins change. Two flavours:
#
#   build.sh [baked]   the VM and e2e tests' image: containerd, keepalived, haproxy and etcd
#       installed, kubeadm, kubelet and kubectl recording stand-ins (test image only; never in the
#       product), and nodegen's baked-image marker, so the bootstrap program skips package
#       installation.
#   build.sh plain     the real-cluster test's image: a Debian 12 install as a site would have it
#       before nodegen (cloud-init, curl, and firewalld running with its default zone), nothing of
#       Kubernetes: the bootstrap program's package phase installs everything.
#   build.sh packer    plain plus openssh-server and sudo, as a vendor's generic cloud image has
#       them: the local source disk the real bake (test/bake) gives Packer's qemu builder, which
#       logs in over SSH as cloud-init's default user and provisions with sudo.
#
# Prints the cache directory holding disk.raw, vmlinuz and initrd.img.
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FLAVOUR=${1:-baked}
case "$FLAVOUR" in baked | plain | packer) ;; *) echo "vm-image: unknown flavour $FLAVOUR (baked, plain or packer)" >&2; exit 2 ;; esac
KUBERNETES_VERSION=${NODEGEN_VM_K8S_VERSION:-1.34.2}
MIRROR=${NODEGEN_VM_MIRROR:-http://deb.debian.org/debian}
cache_root=${NODEGEN_VM_CACHE:-$HOME/.cache/nodegen-vm}
hash=$( (cat "$here/build.sh" "$here"/standins/*; echo "$KUBERNETES_VERSION $FLAVOUR") | sha256sum | cut -c1-16)
cache=$cache_root/image-$FLAVOUR-$hash
if [ -s "$cache/disk.raw" ] && [ -s "$cache/vmlinuz" ] && [ -s "$cache/initrd.img" ]; then
  echo "$cache"
  exit 0
fi
log() { echo "vm-image: $*" >&2; }
for tool in debootstrap mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { log "$tool is missing (npm run test:tools)"; exit 1; }
done
mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
packages=(
  systemd systemd-sysv udev dbus kmod procps iproute2 iputils-ping ifupdown isc-dhcp-client
  cloud-init python3-cffi-backend ca-certificates curl openssl
  linux-image-amd64 initramfs-tools e2fsprogs
)
if [ "$FLAVOUR" = baked ]; then packages+=(chrony containerd keepalived haproxy etcd-server etcd-client jq)
else packages+=(firewalld libpam-systemd); fi
if [ "$FLAVOUR" = packer ]; then packages+=(openssh-server sudo); fi
# The debootstrapped base is cached on its own (keyed by the package list and mirror), so changing
# a stand-in or a setting rebuilds in seconds, not minutes.
base_hash=$(printf '%s\n' "$MIRROR" "${packages[@]}" | sha256sum | cut -c1-16)
base=$cache_root/base-$base_hash
if [ ! -d "$base/rootfs" ]; then
  log "debootstrap bookworm (this takes a few minutes)"
  rm -rf "$base.tmp"
  mkdir -p "$base.tmp"
  PATH=/usr/sbin:/sbin:$PATH debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" bookworm "$base.tmp/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
  }
  rm -rf "$base.tmp/rootfs/var/cache/apt/archives"/*.deb "$base.tmp/rootfs/var/lib/apt/lists"/*
  mv "$base.tmp" "$base"
fi
log "configuring a copy of the base"
cp -a "$base/rootfs" "$root"
echo nodegen-test >"$root/etc/hostname"
cat >"$root/etc/fstab" <<'FSTAB'
/dev/vda / ext4 defaults,errors=remount-ro 0 1
FSTAB
# cloud-init: NoCloud or ConfigDrive seeds only; never wait for a metadata service.
mkdir -p "$root/etc/cloud/cloud.cfg.d"
cat >"$root/etc/cloud/cloud.cfg.d/90-nodegen-test.cfg" <<'CFG'
datasource_list: [NoCloud, ConfigDrive, None]
# minbase has no locales package; C.UTF-8 is built into glibc.
locale: C.UTF-8
CFG
echo 'LANG=C.UTF-8' >"$root/etc/default/locale"
# Quick boots: no network-online wait beyond a few seconds, no getty on the serial console.
mkdir -p "$root/etc/systemd/system/systemd-networkd-wait-online.service.d" "$root/etc/systemd/system/networking.service.d"
printf '[Service]\nExecStart=\nExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=5\n' >"$root/etc/systemd/system/systemd-networkd-wait-online.service.d/override.conf"
printf '[Service]\nTimeoutStartSec=20\n' >"$root/etc/systemd/system/networking.service.d/override.conf"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
if [ "$FLAVOUR" != baked ]; then
  # firewalld is on, with Debian's default zone (public: ssh and dhcpv6-client only), as on a site's
  # hardened image; its systemd unit is enabled by the package.
  [ -e "$root/etc/systemd/system/multi-user.target.wants/firewalld.service" ] || {
    log "firewalld is not enabled in the plain image"
    exit 1
  }
  # Debian's firewalld orders itself before network-pre.target and cloud-init's network stage before
  # sysinit.target: an ordering cycle (firewalld/firewalld#414, canonical/cloud-init#6502) that
  # systemd breaks by dropping a job at random, cloud-init's own included. A site running both
  # applies the workaround docs/bare-metal.md gives (nodegen's firewall phase writes the same unit
  # where it enables firewalld): the vendor unit without the network-pre.target ordering.
  sed '/^\(Before\|Wants\)=network-pre.target$/d' "$root/lib/systemd/system/firewalld.service" >"$root/etc/systemd/system/firewalld.service"
fi
if [ "$FLAVOUR" = baked ]; then
# The image does not start services its packages enable until nodegen's program asks for them.
for unit in etcd keepalived haproxy; do rm -f "$root/etc/systemd/system/multi-user.target.wants/$unit.service"; done
# Root's password stays locked; the console is for reading, not logging in.
sed -i 's/^root:[^:]*:/root:*:/' "$root/etc/shadow"
# Kubernetes stand-ins (test image only) and the kubelet unit that runs the stand-in kubelet.
install -m 0755 "$here/standins/kubeadm" "$root/usr/bin/kubeadm"
install -m 0755 "$here/standins/kubectl" "$root/usr/bin/kubectl"
install -m 0755 "$here/standins/kubelet" "$root/usr/bin/kubelet"
install -d -m 0755 "$root/usr/lib/nodegen-standin"
install -m 0755 "$here/standins/standin-config.py" "$here/standins/standin-apiserver.py" "$root/usr/lib/nodegen-standin/"
cat >"$root/etc/systemd/system/kubelet.service" <<'UNIT'
[Unit]
Description=kubelet (nodegen test stand-in)
[Service]
ExecStart=/usr/bin/kubelet
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
# Diagnosis (test image only): with `nodegen.top` on the kernel command line, the busiest units (CPU
# over 30 s, their children counted) go to the console, so a slow VM can be read from outside.
cat >"$root/etc/systemd/system/nodegen-standin-top.service" <<'UNIT'
[Unit]
Description=busiest processes to the console (nodegen test image, nodegen.top)
ConditionKernelCommandLine=nodegen.top
[Service]
ExecStart=/bin/sh -c 'while :; do systemd-cgtop -b -c -n 2 -d 30 --depth=3 | awk "\$3+0 >= 0.5" | sed "s/^/[top] /" >/dev/console; done'
[Install]
WantedBy=multi-user.target
UNIT
ln -sf ../nodegen-standin-top.service "$root/etc/systemd/system/multi-user.target.wants/nodegen-standin-top.service"
mkdir -p "$root/etc/nodegen-standin" "$root/etc/nodegen"
echo "v$KUBERNETES_VERSION" >"$root/etc/nodegen-standin/version"
# nodegen's baked-image marker (the same schema `nodegen image build` writes).
printf '{"schema": 1, "os": "debian-12", "kubernetesVersion": "%s", "containerRuntime": "containerd", "builtBy": "nodegen-test-image"}\n' \
  "$KUBERNETES_VERSION" >"$root/etc/nodegen/image.json"
fi
mkdir -p "$cache.tmp"
cp "$(readlink -f "$root/vmlinuz")" "$cache.tmp/vmlinuz"
cp "$(readlink -f "$root/initrd.img")" "$cache.tmp/initrd.img"
log "writing the ext4 disk"
# The plain image's nodes install packages and import images at boot, and the packer image is baked
# into: room for both.
truncate -s "$([ "$FLAVOUR" = baked ] && echo 3G || echo 8G)" "$cache.tmp/disk.raw"
PATH=/usr/sbin:/sbin:$PATH mkfs.ext4 -q -F -L nodegen-root -d "$root" "$cache.tmp/disk.raw"
rm -rf "$cache"
mv "$cache.tmp" "$cache"
log "image ready in $cache"
echo "$cache"
