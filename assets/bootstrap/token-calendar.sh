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
set -Eeuo pipefail

ROOT=${NODEGEN_ROOT:-}
CALENDAR_FILE="$ROOT/etc/nodegen/calendar.env"
KUBECONFIG_FILE="$ROOT/etc/kubernetes/admin.conf"
CHARS=0123456789abcdefghijklmnopqrstuvwxyz
GROUP=system:bootstrappers:kubeadm:default-node-token

declare -A C=()
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in '' | '#'*) continue ;; esac
  key=${line%%=*}
  if [[ ! "$key" =~ ^[A-Z][A-Z0-9_]*$ ]] || [ "$key" = "$line" ]; then
    echo "token-calendar: $CALENDAR_FILE has a line that is not KEY=VALUE" >&2
    exit 2
  fi
  C[$key]=${line#*=}
done <"$CALENDAR_FILE"

SECRET=${C[CALENDAR_SECRET]-}
WINDOW=${C[WINDOW_SECONDS]-}
AHEAD=${C[WINDOWS_AHEAD]-1}
[[ "$SECRET" =~ ^[0-9a-f]{64}$ ]] || { echo "token-calendar: CALENDAR_SECRET is not 32 bytes of hex" >&2; exit 2; }
[[ "$WINDOW" =~ ^[1-9][0-9]*$ ]] || { echo "token-calendar: WINDOW_SECONDS is not a positive number" >&2; exit 2; }
[[ "$AHEAD" =~ ^[0-9]+$ ]] || { echo "token-calendar: WINDOWS_AHEAD is not a number" >&2; exit 2; }

derive() {
  local w=$1 block=0 chars='' hex i b
  while [ "${#chars}" -lt 22 ]; do
    hex=$(printf 'nodegen-bootstrap-token:%s:%s' "$w" "$block" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$SECRET" -r)
    hex=${hex%% *}
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
  kubeadm token list --kubeconfig "$KUBECONFIG_FILE" 2>/dev/null | awk 'NR > 1 && $1 ~ /^[a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][.]/ { split($1, t, "."); print t[1] }'
}

sync() {
  local t cur w token id ttl ids
  t=$(now)
  cur=$((t / WINDOW))
  ids=" $(registered_ids | tr '\n' ' ') "
  for ((w = cur; w <= cur + AHEAD; w++)); do
    token=$(derive "$w")
    id=${token%%.*}
    if [[ "$ids" == *" $id "* ]]; then continue; fi
    ttl=$(((w + 1) * WINDOW - t))
    kubeadm token create "$token" --kubeconfig "$KUBECONFIG_FILE" --ttl "${ttl}s" --usages signing,authentication \
      --groups "$GROUP" --description "nodegen token calendar, window $w" >/dev/null
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
