#!/usr/bin/env bash
# nodegen bootstrap program: the same on every node of every cluster.
#
# It brings this node into its cluster with no central step, in phases (host preparation,
# packages, firewall, images, role, report). Every phase that finishes leaves a marker under
# $STATE_DIR/done, so the program is safe to re-run after a reboot or a failure: done phases are
# skipped.
#
# Nothing in this file comes from a profile. Every parameter is read from a data file
# (bootstrap.env: KEY=VALUE lines, nodes.tsv: one node per line) by a loop that assigns values
# verbatim; values are only ever used quoted. The file is never sourced or evaluated.
set -Eeuo pipefail
umask 077

# NODEGEN_ROOT prefixes every path the program touches; only the tests set it (a temporary root).
ROOT=${NODEGEN_ROOT:-}
NODEGEN_ETC="$ROOT/etc/nodegen"
STATE_DIR="$ROOT/var/lib/nodegen"
LOG_DIR="$ROOT/var/log/nodegen"
PARAMS_FILE="$NODEGEN_ETC/bootstrap.env"
# On aws/gcp with a secret backend: what to fetch (see fetch-secrets.sh).
SECRETS_PARAMS_FILE="$NODEGEN_ETC/secrets.env"
NODES_FILE="$NODEGEN_ETC/nodes.tsv"
KUBE_DIR="$ROOT/etc/kubernetes"
BAKED_MARKER="$NODEGEN_ETC/image.json"
INSTALL_SCRIPT="$ROOT/usr/local/lib/nodegen/install-packages.sh"
CONSOLE=${NODEGEN_CONSOLE:-/dev/console}
# Seconds between retries start here and double up to BACKOFF_MAX; tests shorten them.
BACKOFF_START=${NODEGEN_BACKOFF_START:-5}
BACKOFF_MAX=${NODEGEN_BACKOFF_MAX:-60}
POLL_INTERVAL=${NODEGEN_POLL_INTERVAL:-5}
# etcd's client port is kubeadm's fixed 2379; only the tests move it.
# shellcheck disable=SC2034 # used by control-plane.sh
ETCD_PORT=${NODEGEN_ETCD_PORT:-2379}

mkdir -p "$STATE_DIR/done" "$LOG_DIR"
chmod 0700 "$STATE_DIR"
LOG_FILE="$LOG_DIR/bootstrap.log"
STATUS_FILE="$STATE_DIR/status.json"
exec > >(tee -a "$LOG_FILE") 2>&1

log() { printf '%s nodegen: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

# systemctl enable/disable/mask without the daemon-reload systemctl does after each by default and
# without the SysV hooks (on Debian, a Perl update-rc.d run per unit that also ships an init script).
# Every unit was on disk before systemd started this program (cloud-init's runcmd reloads once,
# Ignition writes before boot), and on a busy machine each reload costs seconds.
unit_files() {
  local verb=$1
  shift
  SYSTEMCTL_SKIP_SYSV=1 systemctl "$verb" --no-reload "$@"
}

# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=params.sh
. "$(dirname "${BASH_SOURCE[0]}")/params.sh" # nodegen: inline
require_param() {
  local k
  for k in "$@"; do
    [ -n "${P[$k]-}" ] || { log "parameter $k is missing from $PARAMS_FILE"; exit 2; }
  done
}

read_params "$PARAMS_FILE"
if [ -e "$SECRETS_PARAMS_FILE" ]; then read_params "$SECRETS_PARAMS_FILE"; fi
require_param NODE_NAME NODE_ROLE NODE_ORDINAL NODE_IP CLUSTER_NAME KUBERNETES_VERSION ENDPOINT_HOST ENDPOINT_PORT
for var in HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  value=$(param "PROXY_$var")
  if [ -n "$value" ]; then
    export "$var=$value"
    export "${var,,}=$value"
  fi
done
NODE=$(param NODE_NAME)
ROLE=$(param NODE_ROLE)
ORDINAL=$(param NODE_ORDINAL)
TIMEOUT=$(param TIMEOUT_SECONDS)
TIMEOUT=${TIMEOUT:-3600}
START_TIME=$(date +%s)
DEADLINE=$((START_TIME + TIMEOUT))
ENDPOINT="$(param ENDPOINT_HOST):$(param ENDPOINT_PORT)"
CA_CERT="$NODEGEN_ETC/pki/ca.crt"

# ---------------------------------------------------------------------------------------------
# Status and reporting
# ---------------------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=status.sh
. "$(dirname "${BASH_SOURCE[0]}")/status.sh" # nodegen: inline
CURRENT_PHASE=start
# How many times the program has run on this node, this run included.
RUN=$(($(cat "$STATE_DIR/runs" 2>/dev/null || echo 0) + 1))
[[ "$RUN" =~ ^[0-9]+$ ]] || RUN=1
printf '%s\n' "$RUN" >"$STATE_DIR/runs"
write_status() {
  local state=$1 reason=${2-} tmp
  tmp="$STATUS_FILE.tmp"
  {
    printf '{"node":%s,"role":%s,"ordinal":%s,"phase":%s,"state":%s,"reason":%s,' \
      "$(json_string "$NODE")" "$(json_string "$ROLE")" "$ORDINAL" "$(json_string "$CURRENT_PHASE")" \
      "$(json_string "$state")" "$(json_string "$reason")"
    printf '"run":%s,"time":%s,"elapsedSeconds":%s}\n' "$RUN" "$(json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" "$(($(date +%s) - START_TIME))"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$STATUS_FILE"
  post_status
}

post_status() {
  local url
  url=$(param STATUS_URL)
  [ -n "$url" ] || return 0
  url="$url/status/$NODE"
  # The URL may carry this node's status token (nodegen serve's /t/<token>/): it reaches curl as a
  # config line on stdin, not as an argument any local user could read in /proc.
  url=${url//\\/\\\\}
  printf 'url = "%s"\n' "${url//\"/\\\"}" |
    curl -K - -fsS -m 5 -X POST -H 'Content-Type: application/json' --data-binary "@$STATUS_FILE" >/dev/null 2>&1 || true
}

FAIL_REASON_FILE="$STATE_DIR/.fail-reason"
die() {
  printf '%s' "$*" >"$FAIL_REASON_FILE"
  log "error: $*"
  exit 1
}

# Reports the failure and ends this run; systemd starts the program again (Restart=on-failure, no
# start limit), which goes on from the phase that failed.
fail() {
  local reason=$1
  write_status failed "$reason"
  console "nodegen: $NODE $ROLE failed at $CURRENT_PHASE: $reason (run $RUN; systemd starts the next run shortly)"
  exit 1
}

# Runs one phase in a subshell with errexit in force (bash ignores errexit inside functions called
# from a condition, so a phase is never called from one). A done phase is skipped.
run_phase() {
  local name=$1 fn=$2 rc
  if [ -e "$STATE_DIR/done/$name" ]; then
    log "phase $name: done before, skipped"
    return 0
  fi
  CURRENT_PHASE=$name
  write_status running
  log "phase $name: start"
  rm -f "$FAIL_REASON_FILE"
  set +e
  (
    set -Eeuo pipefail
    trap 'rc=$?; [ -s "$FAIL_REASON_FILE" ] || printf "command failed (exit %s): %s" "$rc" "$BASH_COMMAND" >"$FAIL_REASON_FILE"' ERR
    "$fn"
  )
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    local reason="exit $rc"
    [ -s "$FAIL_REASON_FILE" ] && reason=$(head -c 500 "$FAIL_REASON_FILE")
    fail "$reason"
  fi
  : >"$STATE_DIR/done/$name"
  log "phase $name: done"
  # Tests stop the program after the phase they examine.
  if [ "${NODEGEN_STOP_AFTER:-}" = "$name" ]; then
    log "stopping after phase $name (NODEGEN_STOP_AFTER)"
    exit 0
  fi
}

time_left() { echo $((DEADLINE - $(date +%s))); }

# wait_until DESCRIPTION COMMAND... — polls until the command succeeds or the overall deadline.
wait_until() {
  local what=$1 n=0
  shift
  while ! "$@" >/dev/null 2>&1; do
    if [ "$(time_left)" -le 0 ]; then die "timed out waiting for $what"; fi
    n=$((n + 1))
    if [ $((n % 12)) -eq 1 ]; then log "waiting for $what"; fi
    sleep "$POLL_INTERVAL"
  done
  log "$what: ok"
}

# Sleeps for the attempt's backoff with up to 50 % jitter, so nodes that failed together retry apart.
backoff() {
  local attempt=$1 delay jitter
  delay=$BACKOFF_START
  while [ "$attempt" -gt 1 ] && [ "$delay" -lt "$BACKOFF_MAX" ]; do
    delay=$((delay * 2))
    attempt=$((attempt - 1))
  done
  [ "$delay" -gt "$BACKOFF_MAX" ] && delay=$BACKOFF_MAX
  jitter=$((RANDOM % (delay / 2 + 1)))
  sleep $((delay + jitter))
}

# ---------------------------------------------------------------------------------------------
# Phase 1: host preparation
# ---------------------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=phases/1-prepare.sh
. "$(dirname "${BASH_SOURCE[0]}")/phases/1-prepare.sh" # nodegen: inline

# ---------------------------------------------------------------------------------------------
# Phase 2: packages (skipped on a baked image)
# ---------------------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=phases/2-packages.sh
. "$(dirname "${BASH_SOURCE[0]}")/phases/2-packages.sh" # nodegen: inline

# ---------------------------------------------------------------------------------------------
# Phase 3: firewall (after the packages: on EL that phase is what installs firewalld)
# ---------------------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=phases/3-firewall.sh
. "$(dirname "${BASH_SOURCE[0]}")/phases/3-firewall.sh" # nodegen: inline

# ---------------------------------------------------------------------------------------------
# Phase 4: images (control planes pre-pull what kubeadm will run)
# ---------------------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=phases/4-images.sh
. "$(dirname "${BASH_SOURCE[0]}")/phases/4-images.sh" # nodegen: inline

# ---------------------------------------------------------------------------------------------
# Phase 5: role
# ---------------------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=phases/5-role.sh
. "$(dirname "${BASH_SOURCE[0]}")/phases/5-role.sh" # nodegen: inline

# ---------------------------------------------------------------------------------------------
# Phase 6: clean-up and report
# ---------------------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=phases/6-cleanup.sh
. "$(dirname "${BASH_SOURCE[0]}")/phases/6-cleanup.sh" # nodegen: inline

# Control planes and etcd members source the role code only they run; a worker's seed does without
# it (on Flatcar it must fit EC2's user-data limit).
if [ "$ROLE" != worker ]; then
  # shellcheck source=/dev/null # checked on its own (control-plane.sh)
  . "$ROOT$(param LIB_DIR)/control-plane.sh"
fi

main() {
  log "bootstrap of $NODE ($ROLE $ORDINAL) in cluster $(param CLUSTER_NAME) starts (run $RUN)"
  run_phase prepare prepare_host
  if [ -e "$SECRETS_PARAMS_FILE" ]; then
    # On aws/gcp the node's secret files come from the cloud's secret service (fetch-secrets.sh).
    # shellcheck source=/dev/null # checked on its own (it is shipped only to nodes with a bundle)
    . "$ROOT$(param LIB_DIR)/fetch-secrets.sh"
    run_phase secrets fetch_secrets
  fi
  run_phase packages install_packages
  run_phase firewall configure_firewall
  run_phase images pull_images
  run_phase role role_phase
  run_phase cleanup cleanup_secrets
  CURRENT_PHASE=ready
  write_status ready
  console "nodegen: $NODE $ROLE ready"
}

main "$@"
