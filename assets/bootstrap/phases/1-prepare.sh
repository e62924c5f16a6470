# shellcheck shell=bash
is_family() { [ "$(param OS_FAMILY)" = "$1" ]; }

prepare_host() {
  if [ "$(hostname)" != "$NODE" ]; then
    if command -v hostnamectl >/dev/null 2>&1; then hostnamectl set-hostname "$NODE" || hostname "$NODE"; else hostname "$NODE"; fi
  fi
  update_hosts
  disable_swap
  set_selinux
  load_modules
  apply_sysctls
  start_time_sync "no time synchronisation service installed yet: the packages phase brings chrony"
}

update_hosts() {
  local hosts="$ROOT/etc/hosts" block="$NODEGEN_ETC/hosts" tmp
  [ -r "$block" ] || return 0
  tmp=$(mktemp "$hosts.nodegen.XXXXXX")
  # Keep everything outside nodegen's block, then append the block afresh. A minimal image may
  # have no /etc/hosts at all: start from the loopback names.
  if [ -e "$hosts" ]; then
    awk '/^# BEGIN nodegen/{skip=1; next} /^# END nodegen/{skip=0; next} !skip' "$hosts" >"$tmp"
  else
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$tmp"
  fi
  {
    echo '# BEGIN nodegen (managed by the bootstrap program)'
    cat "$block"
    echo '# END nodegen'
  } >>"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$hosts"
}

disable_swap() {
  swapoff -a || true
  local fstab="$ROOT/etc/fstab"
  if [ -f "$fstab" ] && grep -Eq '^[^#].*[[:space:]]swap[[:space:]]' "$fstab"; then
    sed -i -E 's/^([^#].*[[:space:]]swap[[:space:]].*)$/# disabled by nodegen: \1/' "$fstab"
  fi
  # zram swap (Fedora-style zram-generator, and systemd's zram units) must not come back at boot.
  local unit
  for unit in $(systemctl list-units --all --plain --no-legend 'dev-zram*.swap' 'systemd-zram-setup@*' 2>/dev/null | awk '{print $1}'); do
    unit_files mask --now "$unit" >/dev/null 2>&1 || true
  done
  unit_files mask swap.target >/dev/null 2>&1 || true
}

set_selinux() {
  is_family rhel || return 0
  local mode
  mode=$(param SELINUX)
  command -v getenforce >/dev/null 2>&1 || return 0
  case "$mode" in
    permissive | disabled)
      if [ "$(getenforce)" = Enforcing ]; then setenforce 0; fi
      ;;
    enforcing) ;;
    *) die "unknown SELinux mode in parameters" ;;
  esac
  local conf="$ROOT/etc/selinux/config"
  if [ -f "$conf" ]; then
    case "$mode" in
      permissive) sed -i -E 's/^SELINUX=.*/SELINUX=permissive/' "$conf" ;;
      disabled) sed -i -E 's/^SELINUX=.*/SELINUX=disabled/' "$conf" ;;
      enforcing) sed -i -E 's/^SELINUX=.*/SELINUX=enforcing/' "$conf" ;;
    esac
  fi
  # The targeted policy's booleans the endpoint needs (haproxy_connect_any, keepalived_connect_any),
  # persistently; with SELinux disabled at boot there is no policy to set them in.
  local boolean
  for boolean in $(param SELINUX_BOOLEANS); do
    [[ "$boolean" =~ ^[a-z][a-z0-9_]*$ ]] || die "bad SELinux boolean $boolean in parameters"
    [ "$(getenforce)" = Disabled ] && break
    setsebool -P "$boolean" on || die "setsebool -P $boolean on failed: the endpoint's haproxy/keepalived would be denied by SELinux"
  done
}

load_modules() {
  local m
  for m in overlay br_netfilter; do
    modprobe "$m" || die "cannot load kernel module $m"
  done
}

apply_sysctls() {
  sysctl --system >/dev/null
  local key
  for key in net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv4.ip_forward; do
    [ "$(sysctl -n "$key")" = 1 ] || die "sysctl $key is not 1 after sysctl --system"
  done
}

# start_time_sync [MESSAGE]: enables and starts the first time service installed; logs MESSAGE when
# there is none.
start_time_sync() {
  local unit
  for unit in chronyd.service chrony.service systemd-timesyncd.service; do
    if systemctl list-unit-files "$unit" 2>/dev/null | grep "^$unit" >/dev/null; then
      unit_files enable "$unit" >/dev/null 2>&1 || true
      systemctl restart "$unit" >/dev/null 2>&1 || log "could not start $unit"
      return 0
    fi
  done
  log "${1:-no time synchronisation service found}"
}
