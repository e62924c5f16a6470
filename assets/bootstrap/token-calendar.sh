#!/usr/bin/env bash
# nodegen token calendar, run on control planes by nodegen-tokens.timer (and once right after
# `kubeadm init`). It keeps the bootstrap tokens of the current and next windows registered, each
# with a TTL that ends with its window, and deletes those of past windows. Any control plane may run
# it at any time; running it twice changes nothing.
#
#   token-calendar.sh sync       register/expire tokens (the timer's job)
#   token-calendar.sh derive W   print the token of window W (tests compare it with nodegen's)
#
# The derivation is the contract of src/pki/calendar.ts: HMAC-SHA256 blocks of
# "nodegen-bootstrap-token:<window>:<k>" under the calendar secret, bytes >= 252 dropped, each kept
# byte b mapped to [0-9a-z][b % 36]; 6 characters of id, 16 of secret. Parameters come from
# calendar.env (KEY=VALUE, read verbatim); the secret part of a token is never logged.
#
# No secret is ever in a process's arguments (any local user reads them in /proc): the HMAC is
# RFC 2104 over sha256sum with the key bytes made by printf (a builtin), and a token reaches the
# cluster as its bootstrap-token Secret through `kubectl apply -f -` on stdin, the object
# `kubeadm token create` would make. apply is idempotent, so the timers of several control planes
# registering the same window at the same moment all succeed.
set -Eeuo pipefail

ROOT=${NODEGEN_ROOT:-}
CALENDAR_FILE="$ROOT/etc/nodegen/calendar.env"
KUBECONFIG_FILE="$ROOT/etc/kubernetes/admin.conf"
CHARS=0123456789abcdefghijklmnopqrstuvwxyz
GROUP=system:bootstrappers:kubeadm:default-node-token

# shellcheck source-path=SCRIPTDIR source=params.sh
. "$(dirname "${BASH_SOURCE[0]}")/params.sh" # nodegen: inline
read_params "$CALENDAR_FILE"

SECRET=$(param CALENDAR_SECRET)
WINDOW=$(param WINDOW_SECONDS)
AHEAD=${P[WINDOWS_AHEAD]-1}
[[ "$SECRET" =~ ^[0-9a-f]{64}$ ]] || { echo "token-calendar: CALENDAR_SECRET is not 32 bytes of hex" >&2; exit 2; }
[[ "$WINDOW" =~ ^[1-9][0-9]*$ ]] || { echo "token-calendar: WINDOW_SECONDS is not a positive number" >&2; exit 2; }
[[ "$AHEAD" =~ ^[0-9]+$ ]] || { echo "token-calendar: WINDOWS_AHEAD is not a number" >&2; exit 2; }

# The HMAC pads of the calendar secret as printf escapes (the secret is 32 bytes: one block).
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

# hmac_hex MESSAGE: HMAC-SHA256 under the calendar secret, hex.
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

# register TOKEN WINDOW EXPIRATION: the token's bootstrap-token Secret, on stdin.
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
  # The token cleaner removes expired tokens too; this also covers a cluster where it lags.
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
