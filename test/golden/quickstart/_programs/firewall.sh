# shellcheck shell=bash
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
FIREWALLD_COMMANDS=()
firewalld_commands() {
local line
FIREWALLD_COMMANDS=()
line=$(tab_joined --add-port= "${FW_PORTS[@]}")
[ -n "$line" ] && FIREWALLD_COMMANDS+=("$line")
line=$(tab_joined --add-protocol= "${FW_PROTOCOLS[@]}")
[ -n "$line" ] && FIREWALLD_COMMANDS+=("$line")
if [ "$(param FIREWALL_VRRP)" = 1 ]; then
FIREWALLD_COMMANDS+=('--add-rich-rule=rule protocol value="vrrp" accept')
fi
line=$(tab_joined --add-source= "${FW_SOURCES[@]}")
[ -n "$line" ] && FIREWALLD_COMMANDS+=("--zone=trusted"$'\t'"$line")
return 0
}
tab_joined() {
local prefix=$1 item line=''
shift
for item in "$@"; do line+="${line:+$'\t'}$prefix$item"; done
printf '%s' "$line"
}
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
firewall_cmd --quiet "${args[@]}"
firewall_cmd --quiet --permanent "${args[@]}"
done
log "firewalld: ${#FIREWALLD_COMMANDS[@]} kind(s) of rule in force, now and after a restart"
elif command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | grep 'Status: active' >/dev/null; then
firewall_params
for port in "${FW_PORTS[@]}"; do ufw allow "${port/-/:}" >/dev/null; done
if [ "$(param FIREWALL_VRRP)" = 1 ]; then ufw allow proto vrrp from any to any >/dev/null; fi
if [ "${#FW_PROTOCOLS[@]}" -gt 0 ]; then
ufw_before_protocols "$ROOT/etc/ufw/before.rules"
ufw reload >/dev/null
fi
for src in "${FW_SOURCES[@]}"; do
ufw allow from "$src" >/dev/null
ufw route allow from "$src" >/dev/null
done
log "ufw: ${#FW_PORTS[@]} port rule(s), ${#FW_PROTOCOLS[@]} IP protocol(s), ${#FW_SOURCES[@]} pod network(s) allowed"
else
log "no firewalld or active ufw: no ports to open"
fi
}
