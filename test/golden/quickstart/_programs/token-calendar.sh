#!/usr/bin/env bash
set -Eeuo pipefail
ROOT=${NODEGEN_ROOT:-}
CALENDAR_FILE="$ROOT/etc/nodegen/calendar.env"
KUBECONFIG_FILE="$ROOT/etc/kubernetes/admin.conf"
CHARS=0123456789abcdefghijklmnopqrstuvwxyz
GROUP=system:bootstrappers:kubeadm:default-node-token
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
read_params "$CALENDAR_FILE"
SECRET=$(param CALENDAR_SECRET)
WINDOW=$(param WINDOW_SECONDS)
AHEAD=${P[WINDOWS_AHEAD]-1}
[[ "$SECRET" =~ ^[0-9a-f]{64}$ ]] || { echo "token-calendar: CALENDAR_SECRET is not 32 bytes of hex" >&2; exit 2; }
[[ "$WINDOW" =~ ^[1-9][0-9]*$ ]] || { echo "token-calendar: WINDOW_SECONDS is not a positive number" >&2; exit 2; }
[[ "$AHEAD" =~ ^[0-9]+$ ]] || { echo "token-calendar: WINDOWS_AHEAD is not a number" >&2; exit 2; }
IPAD='' OPAD=''
for ((i = 0; i < 128; i += 2)); do
b=0
if [ "$i" -lt 64 ]; then b=$((16#${SECRET:i:2})); fi
printf -v x '\\x%02x' $((b ^ 0x36))
IPAD+=$x
printf -v x '\\x%02x' $((b ^ 0x5c))
OPAD+=$x
done
sha256_hex() { sha256sum | cut -c1-64; }
hmac_hex() {
local inner esc='' i
# shellcheck disable=SC2059 # formats of \xHH escapes only
inner=$({ printf "$IPAD"; printf '%s' "$1"; } | sha256_hex)
for ((i = 0; i < 64; i += 2)); do esc+="\\x${inner:i:2}"; done
# shellcheck disable=SC2059
{ printf "$OPAD"; printf "$esc"; } | sha256_hex
}
derive() {
local w=$1 block=0 chars='' hex i b
while [ "${#chars}" -lt 22 ]; do
hex=$(hmac_hex "nodegen-bootstrap-token:$w:$block")
for ((i = 0; i < 64 && ${#chars} < 22; i += 2)); do
b=$((16#${hex:i:2}))
if [ "$b" -lt 252 ]; then chars+=${CHARS:b%36:1}; fi
done
block=$((block + 1))
done
printf '%s.%s\n' "${chars:0:6}" "${chars:6:16}"
}
now() { printf '%s' "${NODEGEN_NOW:-$(date +%s)}"; }
registered_ids() {
kubeadm token list --kubeconfig "$KUBECONFIG_FILE" | awk 'NR > 1 && $1 ~ /^[a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][.]/ { split($1, t, "."); print t[1] }'
}
register() {
local id=${1%%.*} secret=${1#*.}
kubectl --kubeconfig "$KUBECONFIG_FILE" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: bootstrap-token-$id
  namespace: kube-system
type: bootstrap.kubernetes.io/token
stringData:
  description: "nodegen token calendar, window $2"
  token-id: "$id"
  token-secret: "$secret"
  expiration: "$3"
  usage-bootstrap-authentication: "true"
  usage-bootstrap-signing: "true"
  auth-extra-groups: "$GROUP"
EOF
}
sync() {
local t cur w token id ttl ids
t=$(now)
cur=$((t / WINDOW))
ids=$(registered_ids) || { echo "token-calendar: listing the registered tokens failed" >&2; return 1; }
ids=" $(printf '%s' "$ids" | tr '\n' ' ') "
for ((w = cur; w <= cur + AHEAD; w++)); do
token=$(derive "$w")
id=${token%%.*}
if [[ "$ids" == *" $id "* ]]; then continue; fi
ttl=$(((w + 1) * WINDOW - t))
register "$token" "$w" "$(date -u -d "@$(((w + 1) * WINDOW))" +%Y-%m-%dT%H:%M:%SZ)"
echo "token-calendar: registered token $id for window $w (expires in ${ttl}s)"
done
for ((w = cur - AHEAD - 2; w < cur; w++)); do
[ "$w" -ge 0 ] || continue
token=$(derive "$w")
id=${token%%.*}
if [[ "$ids" == *" $id "* ]]; then
kubeadm token delete "$id" --kubeconfig "$KUBECONFIG_FILE" >/dev/null
echo "token-calendar: deleted token $id of past window $w"
fi
done
}
case "${1-}" in
sync) sync ;;
derive)
[[ "${2-}" =~ ^[0-9]+$ ]] || { echo "usage: token-calendar.sh derive WINDOW" >&2; exit 2; }
derive "$2"
;;
*)
echo "usage: token-calendar.sh sync | derive WINDOW" >&2
exit 2
;;
esac
