#!/usr/bin/env bash
set -Eeuo pipefail
umask 077
ROOT=${NODEGEN_ROOT:-}
NODEGEN_ETC="$ROOT/etc/nodegen"
STATE_DIR="$ROOT/var/lib/nodegen"
LOG_DIR="$ROOT/var/log/nodegen"
PARAMS_FILE="$NODEGEN_ETC/bootstrap.env"
KUBE_DIR="$ROOT/etc/kubernetes"
MANIFESTS="$KUBE_DIR/manifests"
ASIDE="$STATE_DIR/cert-renewal.aside"
STATUS_FILE="$STATE_DIR/status.json"
LAST_FILE="$STATE_DIR/cert-renewal.last"
CONSOLE=${NODEGEN_CONSOLE:-/dev/console}
POLL_INTERVAL=${NODEGEN_POLL_INTERVAL:-5}
SETTLE_SECONDS=${NODEGEN_SETTLE_SECONDS:-25}
HEALTH_TIMEOUT=${NODEGEN_HEALTH_TIMEOUT:-300}
LEASE_NAME=nodegen-cert-renewal
LEASE_NAMESPACE=kube-system
mkdir -p "$STATE_DIR" "$LOG_DIR"
log() { printf '%s nodegen-cert-renewal: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
declare -A P=()
read_params() {
local file=$1 line key n=0
[ -r "$file" ] || {
printf '%s: parameter file %s is missing\n' "${0##*/}" "$file" >&2
exit 2
}
while IFS= read -r line || [ -n "$line" ]; do
n=$((n + 1))
case "$line" in '' | '#'*) continue ;; esac
key=${line%%=*}
if [[ ! "$key" =~ ^[A-Z][A-Z0-9_]*$ ]] || [ "$key" = "$line" ]; then
printf '%s: parameter file %s line %s is not KEY=VALUE\n' "${0##*/}" "$file" "$n" >&2
exit 2
fi
P[$key]=${line#*=}
done <"$file"
}
param() { printf '%s' "${P[$1]-}"; }
json_string() {
local s=$1 out='' ch i
for ((i = 0; i < ${#s}; i++)); do
ch=${s:i:1}
case "$ch" in
'"') out+='\"' ;;
\\) out+="\\\\" ;;
$'\n') out+='\n' ;;
$'\r') out+='\r' ;;
$'\t') out+='\t' ;;
*)
if [[ "$ch" < ' ' ]]; then printf -v ch '\\u%04x' "'$ch"; fi
out+=$ch
;;
esac
done
printf '"%s"' "$out"
}
console() {
printf '%s\n' "$*"
if [ -w "$CONSOLE" ]; then printf '%s\n' "$*" >"$CONSOLE" 2>/dev/null || true; fi
}
read_params "$PARAMS_FILE"
NODE=$(param NODE_NAME)
ROLE=$(param NODE_ROLE)
ORDINAL=$(param NODE_ORDINAL)
if [ -z "$NODE" ] || [ -z "$ROLE" ]; then log "NODE_NAME and NODE_ROLE must be in $PARAMS_FILE"; exit 2; fi
[[ "$ORDINAL" =~ ^[0-9]+$ ]] || ORDINAL=0
RENEW_BEFORE=$(param CERT_RENEW_BEFORE_SECONDS)
[[ "$RENEW_BEFORE" =~ ^[0-9]+$ ]] || RENEW_BEFORE=$((90 * 86400))
LEASE_SECONDS=$(param CERT_RENEW_LEASE_SECONDS)
[[ "$LEASE_SECONDS" =~ ^[1-9][0-9]*$ ]] || LEASE_SECONDS=900
LEASE_WAIT=${NODEGEN_LEASE_WAIT:-1800}
START_TIME=$(date +%s)
SOONEST_NAME=''
SOONEST_SECONDS=-1
DUE=()
write_status() {
local phase=$1 state=$2 reason=${3-} tmp run last
tmp="$STATUS_FILE.tmp"
run=$(cat "$STATE_DIR/runs" 2>/dev/null || echo 0)
[[ "$run" =~ ^[0-9]+$ ]] || run=0
last=$(cat "$LAST_FILE" 2>/dev/null || true)
{
printf '{"node":%s,"role":%s,"ordinal":%s,"phase":%s,"state":%s,"reason":%s,' \
"$(json_string "$NODE")" "$(json_string "$ROLE")" "$ORDINAL" "$(json_string "$phase")" \
"$(json_string "$state")" "$(json_string "$reason")"
printf '"run":%s,"time":%s,"elapsedSeconds":%s,' "$run" "$(json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" "$(($(date +%s) - START_TIME))"
printf '"certificates":{"checked":%s,"renewBeforeSeconds":%s,"soonest":%s,"soonestSeconds":%s,"due":%s,"lastRenewal":%s}}\n' \
"$(json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" "$RENEW_BEFORE" "$(json_string "$SOONEST_NAME")" "$SOONEST_SECONDS" \
"${#DUE[@]}" "$(json_string "$last")"
} >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$STATUS_FILE"
}
fail() {
write_status cert-renewal failed "$1"
console "nodegen: $NODE $ROLE failed at cert-renewal: $1 (the next timer run tries again)"
exit 1
}
kubeadm_args() { if [ -n "$ROOT" ]; then printf '%s\n' --rootfs "$ROOT"; fi; }
kubeadm_leaves() {
local args out
mapfile -t args < <(kubeadm_args)
out=$(kubeadm certs check-expiration -o json "${args[@]}" 2>/dev/null) || return 1
printf '%s\n' "$out" | awk '
/"certificateAuthorities"[[:space:]]*:/ { section = "ca" }
/"certificates"[[:space:]]*:/ { section = "leaf" }
section == "leaf" && /"name"[[:space:]]*:/ { v = $0; sub(/^[^:]*:[[:space:]]*"/, "", v); sub(/".*$/, "", v); name = v }
section == "leaf" && /"residualTime"[[:space:]]*:/ { v = $0; sub(/^[^:]*:[[:space:]]*/, "", v); sub(/[^0-9-].*$/, "", v); residual = v }
section == "leaf" && /"externallyManaged"[[:space:]]*:/ { external = ($0 ~ /true/) }
section == "leaf" && /"missing"[[:space:]]*:/ {
if (!external && $0 !~ /true/ && name != "") print name "\t" residual
name = ""; residual = ""; external = 0
}'
}
etcd_member_leaves() {
local f end now
now=$(date +%s)
for f in server peer healthcheck-client; do
[ -r "$KUBE_DIR/pki/etcd/$f.crt" ] || continue
end=$(openssl x509 -in "$KUBE_DIR/pki/etcd/$f.crt" -noout -enddate 2>/dev/null | sed 's/^notAfter=//') || continue
end=$(date -u -d "$end" +%s) || continue
printf 'etcd-%s\t%s\n' "$f" $((end - now))
done
}
check_certificates() {
local lines name residual
if [ "$ROLE" = etcd ]; then lines=$(etcd_member_leaves); else lines=$(kubeadm_leaves) || return 1; fi
[ -n "$lines" ] || return 1
DUE=()
SOONEST_NAME=''
SOONEST_SECONDS=-1
while IFS=$'\t' read -r name residual; do
[[ "$residual" =~ ^-?[0-9]+$ ]] || continue
if [ "$SOONEST_SECONDS" -lt 0 ] || [ "$residual" -lt "$SOONEST_SECONDS" ]; then
SOONEST_NAME=$name
SOONEST_SECONDS=$residual
fi
if [ "$residual" -lt "$RENEW_BEFORE" ]; then DUE+=("$name"); fi
printf '%s\t%s\t%s\n' "$name" "$residual" "$([ "$residual" -lt "$RENEW_BEFORE" ] && echo due || echo ok)"
done <<<"$lines"
[ -n "$SOONEST_NAME" ]
}
KUBECONFIG_FILE=''
pick_kubeconfig() {
local f data
for f in "$KUBE_DIR/admin.conf" "$KUBE_DIR/super-admin.conf"; do
[ -r "$f" ] || continue
data=$(sed -n 's/^[[:space:]]*client-certificate-data:[[:space:]]*//p' "$f" | head -n 1)
if [ -n "$data" ] && ! printf '%s' "$data" | base64 -d 2>/dev/null | openssl x509 -noout -checkend 60 >/dev/null 2>&1; then
continue
fi
KUBECONFIG_FILE=$f
return 0
done
return 1
}
kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=20s "$@"; }
micro_time() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.000000Z; }
lease_doc() {
local rv=$1 holder=$2 duration=$3 acquired=$4 now
now=$(micro_time "$(date +%s)")
printf 'apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: %s\n  namespace: %s\n' "$LEASE_NAME" "$LEASE_NAMESPACE"
if [ -n "$rv" ]; then printf '  resourceVersion: "%s"\n' "$rv"; fi
printf 'spec:\n  holderIdentity: "%s"\n  leaseDurationSeconds: %s\n  acquireTime: "%s"\n  renewTime: "%s"\n' \
"$holder" "$duration" "${acquired:-$now}" "$now"
}
read_lease() {
kc get lease "$LEASE_NAME" -n "$LEASE_NAMESPACE" --ignore-not-found \
-o jsonpath='{.metadata.resourceVersion}{"|"}{.spec.holderIdentity}{"|"}{.spec.renewTime}{"|"}{.spec.leaseDurationSeconds}{"|"}{.spec.acquireTime}'
}
try_acquire() {
local current rv holder renewed duration acquired expires now
current=$(read_lease) || return 2
if [ -z "$current" ]; then
lease_doc '' "$NODE" "$LEASE_SECONDS" '' | kc create -f - >/dev/null 2>&1 && return 0
return 1
fi
IFS='|' read -r rv holder renewed duration acquired <<<"$current"
now=$(date +%s)
if [ -n "$holder" ] && [ "$holder" != "$NODE" ]; then
[[ "$duration" =~ ^[0-9]+$ ]] || duration=0
expires=$(($(date -u -d "$renewed" +%s 2>/dev/null || echo 0) + duration))
[ "$now" -ge "$expires" ] || return 1
log "the Lease held by $holder expired at $(date -u -d "@$expires" +%Y-%m-%dT%H:%M:%SZ): taking it over"
acquired=''
elif [ "$holder" != "$NODE" ]; then
acquired=''
fi
lease_doc "$rv" "$NODE" "$LEASE_SECONDS" "$acquired" | kc replace -f - >/dev/null 2>&1 && return 0
return 1
}
acquire_lease() {
local wait=$1 deadline rc holder n=0
deadline=$(($(date +%s) + wait))
while :; do
rc=0
try_acquire || rc=$?
[ "$rc" -eq 0 ] && { log "holding Lease $LEASE_NAMESPACE/$LEASE_NAME"; return 0; }
[ "$(date +%s)" -ge "$deadline" ] && return 1
if [ $((n % 12)) -eq 0 ]; then
if [ "$rc" -eq 2 ]; then
log "the API server does not answer for the Lease; asking again"
else
holder=$(read_lease 2>/dev/null | cut -d '|' -f 2)
log "Lease $LEASE_NAMESPACE/$LEASE_NAME is held by ${holder:-another node}; waiting"
fi
fi
n=$((n + 1))
sleep "$POLL_INTERVAL"
done
}
renew_lease() {
local current rv holder acquired attempt
for attempt in 1 2 3; do
current=$(read_lease) || { sleep "$POLL_INTERVAL"; continue; }
IFS='|' read -r rv holder _ _ acquired <<<"$current"
[ "$holder" = "$NODE" ] || return 1
lease_doc "$rv" "$NODE" "$LEASE_SECONDS" "$acquired" | kc replace -f - >/dev/null 2>&1 && return 0
sleep "$POLL_INTERVAL"
done
log "could not renew the Lease (attempt $attempt); it stays held until it expires"
return 0
}
release_lease() {
local current rv holder
current=$(read_lease) || return 1
[ -n "$current" ] || return 0
IFS='|' read -r rv holder _ _ _ <<<"$current"
[ "$holder" = "$NODE" ] || return 0
lease_doc "$rv" '' 1 '' | kc replace -f - >/dev/null 2>&1
}
api_address() {
local ip
ip=$(param NODE_IP)
if [ -z "$ip" ] || [ "$ip" = 0.0.0.0 ]; then ip=127.0.0.1; fi
printf '%s:%s' "$ip" "$(param API_SERVER_PORT)"
}
served_serial() { openssl s_client -connect "$1" </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null; }
file_serial() { openssl x509 -in "$1" -noout -serial 2>/dev/null; }
component_healthy() {
case "$1" in
etcd) curl -fsS -m 5 http://127.0.0.1:2381/health 2>/dev/null | grep -F -- '"health":"true"' >/dev/null ;;
kube-apiserver)
curl -fsS -m 5 --cacert "$KUBE_DIR/pki/ca.crt" "https://$(api_address)/readyz" 2>/dev/null | grep -x ok >/dev/null &&
[ "$(served_serial "$(api_address)")" = "$(file_serial "$KUBE_DIR/pki/apiserver.crt")" ]
;;
kube-controller-manager) curl -fsSk -m 5 https://127.0.0.1:10257/healthz 2>/dev/null | grep -x ok >/dev/null ;;
kube-scheduler) curl -fsSk -m 5 https://127.0.0.1:10259/healthz 2>/dev/null | grep -x ok >/dev/null ;;
esac
}
container_running() {
command -v crictl >/dev/null 2>&1 || return 2
[ -n "$(crictl ps --name "^$1\$" -q 2>/dev/null)" ]
}
wait_for() {
local seconds=$1 what=$2 deadline
shift 2
deadline=$(($(date +%s) + seconds))
until "$@"; do
[ "$(date +%s)" -lt "$deadline" ] || { log "timed out waiting for $what"; return 1; }
sleep "$POLL_INTERVAL"
done
}
not_running() {
local rc=0
container_running "$1" || rc=$?
[ "$rc" -eq 1 ]
}
restart_component() {
local c=$1 rc=0
[ -e "$MANIFESTS/$c.yaml" ] || return 0
log "restarting $c"
mkdir -p "$ASIDE"
mv -f "$MANIFESTS/$c.yaml" "$ASIDE/$c.yaml" || return 1
container_running "$c" || rc=$?
if [ "$rc" -eq 2 ]; then
sleep "$SETTLE_SECONDS"
else
wait_for 120 "the kubelet to stop $c" not_running "$c" || true
fi
mv -f "$ASIDE/$c.yaml" "$MANIFESTS/$c.yaml" || return 1
wait_for "$HEALTH_TIMEOUT" "$c to be healthy again" component_healthy "$c" || return 1
log "$c is healthy"
}
restore_aside() {
local f
[ -d "$ASIDE" ] || return 0
for f in "$ASIDE"/*.yaml; do
[ -e "$f" ] || continue
log "putting back $(basename "$f"), left aside by an earlier run"
mv -f "$f" "$MANIFESTS/"
done
}
renew_control_plane() {
local args c
mapfile -t args < <(kubeadm_args)
kubeadm certs renew all "${args[@]}" >&2 || return 1
for c in etcd kube-apiserver kube-controller-manager kube-scheduler; do
renew_lease || { log "another node holds the Lease now"; return 1; }
restart_component "$c" || { REASON="$c did not become healthy within ${HEALTH_TIMEOUT}s after its restart"; return 1; }
done
}
REASON=''
run() {
[ -e "$STATE_DIR/done/cleanup" ] || { log "the bootstrap has not finished; nothing to do"; return 0; }
restore_aside
check_certificates >/dev/null || fail "could not read the certificates' expiry (kubeadm certs check-expiration)"
if [ "${#DUE[@]}" -eq 0 ]; then
log "no certificate expires within ${RENEW_BEFORE}s (soonest: $SOONEST_NAME in ${SOONEST_SECONDS}s)"
write_status ready ready
return 0
fi
log "due for renewal: ${DUE[*]}"
if [ "$ROLE" = etcd ]; then
fail "${DUE[*]} expire(s) within ${RENEW_BEFORE}s; nodegen issued them offline: give this member new certificates (docs/day-two.md)"
fi
pick_kubeconfig || fail "neither admin.conf nor super-admin.conf has a valid client certificate: renew by hand with kubeadm certs renew all"
write_status cert-renewal running
if ! acquire_lease "$LEASE_WAIT"; then
log "another node renews its certificates; this node's turn comes at the next timer run"
write_status ready ready
return 0
fi
if ! renew_control_plane; then
release_lease || true
fail "${REASON:-kubeadm certs renew all failed}"
fi
date -u +%Y-%m-%dT%H:%M:%SZ >"$LAST_FILE"
check_certificates >/dev/null || true
release_lease || log "could not release the Lease; it expires by itself"
write_status ready ready
console "nodegen: $NODE $ROLE certificates renewed; the soonest ($SOONEST_NAME) now expires in $((SOONEST_SECONDS / 86400))d"
}
case "${1-}" in
run) run ;;
check)
check_certificates || { log "could not read the certificates' expiry"; exit 2; }
[ "${#DUE[@]}" -eq 0 ]
;;
acquire)
[[ "${2-0}" =~ ^[0-9]+$ ]] || { echo "usage: cert-renewal.sh acquire [SECONDS]" >&2; exit 2; }
pick_kubeconfig || { log "no usable kubeconfig"; exit 2; }
acquire_lease "${2-0}"
;;
release)
pick_kubeconfig || { log "no usable kubeconfig"; exit 2; }
release_lease
;;
*)
echo "usage: cert-renewal.sh run | check | acquire [SECONDS] | release" >&2
exit 2
;;
esac
