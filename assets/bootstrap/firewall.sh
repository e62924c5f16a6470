# shellcheck shell=bash
# nodegen firewall: opening the ports of a node's role, in firewalld or an active ufw. Sourced by
# bootstrap.sh in its firewall phase (its log, die, param, unit_files, wait_until and backoff),
# and shipped only to nodes whose profile opens the firewall.

# The firewall's parameters, each value checked here, in this shell, so a bad one stops the phase:
# the ports; whole IP protocols by number (calico's IP-in-IP is protocol 4); and the pod network,
# trusted because forwarded pod traffic (flannel.1 to cni0, tunl0 to cali*) crosses interfaces that
# are in no zone, and firewalld 1.x rejects such forwarding.
FW_PORTS=() FW_PROTOCOLS=() FW_SOURCES=()
firewall_params() {
  local port proto src
  FW_PORTS=() FW_PROTOCOLS=() FW_SOURCES=()
  for port in $(param FIREWALL_PORTS); do
    [[ "$port" =~ ^[0-9]+(-[0-9]+)?/(tcp|udp)$ ]] || die "bad port $port in parameters"
    FW_PORTS+=("$port")
  done
  for proto in $(param FIREWALL_PROTOCOLS); do
    [[ "$proto" =~ ^[0-9]{1,3}$ ]] || die "bad IP protocol $proto in parameters"
    FW_PROTOCOLS+=("$proto")
  done
  for src in $(param FIREWALL_TRUSTED_SOURCES); do
    [[ "$src" =~ ^[0-9A-Fa-f.:]+/[0-9]{1,3}$ ]] || die "bad trusted source $src in parameters"
    FW_SOURCES+=("$src")
  done
}

# firewalld's permanent configuration as firewall-cmd argument lists, one invocation a line with
# its arguments tab-separated, into FIREWALLD_COMMANDS; VRRP for keepalived besides the parameters.
FIREWALLD_COMMANDS=()
firewalld_commands() {
  local port proto src
  FIREWALLD_COMMANDS=()
  for port in "${FW_PORTS[@]}"; do FIREWALLD_COMMANDS+=("--add-port=$port"); done
  for proto in "${FW_PROTOCOLS[@]}"; do FIREWALLD_COMMANDS+=("--add-protocol=$proto"); done
  if [ "$(param FIREWALL_VRRP)" = 1 ]; then
    FIREWALLD_COMMANDS+=('--add-rich-rule=rule protocol value="vrrp" accept')
  fi
  for src in "${FW_SOURCES[@]}"; do FIREWALLD_COMMANDS+=("--zone=trusted"$'\t'"--add-source=$src"); done
}

# Debian's, Ubuntu's and EL's firewalld order it before network-pre.target, and cloud-init's
# network stage runs after the network but before sysinit.target, which firewalld (an ordinary
# service) follows: an ordering cycle (firewalld/firewalld#414, canonical/cloud-init#6502) that
# systemd breaks at boot by dropping a job at random: cloud-init's, dbus.socket or firewalld's own.
# Where both are installed, firewalld gets its vendor unit without that ordering, so every later
# boot is the same (the firewall then starts just after the network instead of before it).
firewalld_after_network() {
  local vendor unit="$ROOT/etc/systemd/system/firewalld.service"
  [ -e "$unit" ] && return 0
  vendor=$(systemctl show -P FragmentPath firewalld.service 2>/dev/null) || return 0
  [ -n "$vendor" ] && [ -r "$ROOT$vendor" ] || return 0
  grep -qx 'Before=network-pre.target' "$ROOT$vendor" || return 0
  systemctl show -P Before cloud-init.service 2>/dev/null | tr ' ' '\n' | grep -qx sysinit.target || return 0
  sed '/^\(Before\|Wants\)=network-pre.target$/d' "$ROOT$vendor" >"$unit.tmp"
  chmod 0644 "$unit.tmp"
  mv -f "$unit.tmp" "$unit"
  systemctl daemon-reload
  log "firewalld: ordered after the network (its network-pre.target ordering cycles with cloud-init's)"
}

# ufw's rule language names no IP-in-IP (protocol 4, calico's encapsulation): such protocols are
# accepted in before.rules, the iptables-restore input ufw loads ahead of its own rules, once,
# before the *filter table's COMMIT. The file is ufw's (a conffile); the block is marked as nodegen's.
UFW_MARK='# nodegen: IP protocols the cluster needs (IP-in-IP for calico); ufw rules cannot name them'
ufw_before_protocols() {
  local rules=$1 proto block='' tmp
  [ -f "$rules" ] || die "ufw is active but $rules is missing: cannot allow IP protocol(s) ${FW_PROTOCOLS[*]}"
  grep -qxF "$UFW_MARK" "$rules" && return 0
  for proto in "${FW_PROTOCOLS[@]}"; do block+="-A ufw-before-input -p $proto -j ACCEPT"$'\n'; done
  tmp="$rules.nodegen.$$"
  awk -v mark="$UFW_MARK" -v block="$block" '
    !done && $0 == "COMMIT" { print mark; printf "%s", block; done = 1 }
    { print }
    END { if (!done) exit 1 }
  ' "$rules" >"$tmp" || { rm -f "$tmp"; die "$rules has no COMMIT line: cannot allow IP protocol(s) ${FW_PROTOCOLS[*]}"; }
  chmod --reference="$rules" "$tmp"
  mv -f "$tmp" "$rules"
}

firewalld_running() { [ "$(firewall-cmd --state 2>/dev/null)" = running ]; }

# firewall-cmd, again after a pause when firewalld did not answer in time: it reports a D-Bus
# timeout as exit 252 (NOT_RUNNING) or 254 (UNKNOWN_ERROR), which a busy machine sees on a reload
# (firewalld rebuilds every rule in Python). Any other failure, a refused rule above all, stands.
firewall_cmd() {
  local attempt=1 rc
  while :; do
    rc=0
    firewall-cmd "$@" || rc=$?
    [ "$rc" -eq 0 ] && return 0
    if { [ "$rc" -ne 252 ] && [ "$rc" -ne 254 ]; } || [ "$attempt" -ge 5 ]; then
      die "command failed (exit $rc): firewall-cmd $*"
    fi
    log "firewall-cmd $1 ${2-} got no answer from firewalld (exit $rc, attempt $attempt); waiting for it"
    backoff "$attempt"
    wait_until "firewalld running" firewalld_running
    attempt=$((attempt + 1))
  done
}

open_firewall_ports() {
  local line args port src
  if command -v firewall-cmd >/dev/null 2>&1; then
    firewall_params
    firewalld_commands
    firewalld_after_network
    unit_files enable --now firewalld >/dev/null 2>&1 || true
    wait_until "firewalld running" firewalld_running
    for line in "${FIREWALLD_COMMANDS[@]}"; do
      IFS=$'\t' read -r -a args <<<"$line"
      firewall_cmd --quiet --permanent "${args[@]}"
    done
    firewall_cmd --quiet --reload
    log "firewalld: ${#FIREWALLD_COMMANDS[@]} permanent rule(s) in force"
  elif command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | grep 'Status: active' >/dev/null; then
    firewall_params
    for port in "${FW_PORTS[@]}"; do ufw allow "${port/-/:}" >/dev/null; done
    # keepalived's adverts are IP protocol 112, which ufw 0.36 (Debian 12 and 13, Ubuntu 24.04) names.
    if [ "$(param FIREWALL_VRRP)" = 1 ]; then ufw allow proto vrrp from any to any >/dev/null; fi
    if [ "${#FW_PROTOCOLS[@]}" -gt 0 ]; then
      ufw_before_protocols "$ROOT/etc/ufw/before.rules"
      ufw reload >/dev/null
    fi
    # Pods reach their node, and are forwarded between its interfaces, from the pod network.
    for src in "${FW_SOURCES[@]}"; do
      ufw allow from "$src" >/dev/null
      ufw route allow from "$src" >/dev/null
    done
    log "ufw: ${#FW_PORTS[@]} port rule(s), ${#FW_PROTOCOLS[@]} IP protocol(s), ${#FW_SOURCES[@]} pod network(s) allowed"
  else
    log "no firewalld or active ufw: no ports to open"
  fi
}
