#!/usr/bin/env bash
# nodegen certificate renewal, run by nodegen-cert-renewal.timer on control planes and external etcd
# members once their bootstrap is done.
#
#   cert-renewal.sh run        check, and renew when a leaf certificate is due (the timer's job)
#   cert-renewal.sh check      print each certificate's time left; exit 1 when one is due
#   cert-renewal.sh acquire [SECONDS]   take the cluster-wide renewal Lease, waiting up to SECONDS
#   cert-renewal.sh release    give the Lease back (only if this node holds it)
#
# On a control plane a renewal is kubeadm's own: `kubeadm certs renew all` (the leaves and the
# kubeconfigs kubeadm wrote, with the kubeadm-config ConfigMap's validity), then each static pod
# restarted in turn, each one healthy before the next. Only one node renews at a time: the
# coordination.k8s.io/v1 Lease kube-system/nodegen-cert-renewal is taken by an update that carries
# the resourceVersion it read, so of two nodes that read the same Lease only one update succeeds; a
# Lease whose holder stopped renewing it (renewTime + leaseDurationSeconds in the past) is taken
# over. The kubelet's own client certificate is not kubeadm's to renew: the kubelet rotates it
# (rotateCertificates in its configuration).
#
# An external etcd member holds no CA key (nodegen issued its certificates offline), so it only
# checks and reports: a due certificate is a failed status and a console line until the member is
# given new certificates.
#
# Parameters come from the bootstrap program's data file (bootstrap.env: KEY=VALUE, read verbatim,
# never sourced); values are only used quoted. A run that fails reports it and exits 1; the next
# timer run tries again.
set -Eeuo pipefail
umask 077

# NODEGEN_ROOT prefixes every path (and is kubeadm's --rootfs); only the tests set it.
ROOT=${NODEGEN_ROOT:-}
NODEGEN_ETC="$ROOT/etc/nodegen"
STATE_DIR="$ROOT/var/lib/nodegen"
LOG_DIR="$ROOT/var/log/nodegen"
PARAMS_FILE="$NODEGEN_ETC/bootstrap.env"
KUBE_DIR="$ROOT/etc/kubernetes"
MANIFESTS="$KUBE_DIR/manifests"
# Static pod manifests moved out for a restart wait here; a run that died half-way puts them back.
ASIDE="$STATE_DIR/cert-renewal.aside"
STATUS_FILE="$STATE_DIR/status.json"
LAST_FILE="$STATE_DIR/cert-renewal.last"
CONSOLE=${NODEGEN_CONSOLE:-/dev/console}
# Tests shorten the waits.
POLL_INTERVAL=${NODEGEN_POLL_INTERVAL:-5}
# How long the kubelet may take to notice a manifest moved away when crictl cannot tell (its
# fileCheckFrequency is 20 s).
SETTLE_SECONDS=${NODEGEN_SETTLE_SECONDS:-25}
HEALTH_TIMEOUT=${NODEGEN_HEALTH_TIMEOUT:-300}
LEASE_NAME=nodegen-cert-renewal
LEASE_NAMESPACE=kube-system

mkdir -p "$STATE_DIR" "$LOG_DIR"
log() { printf '%s nodegen-cert-renewal: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# shellcheck source-path=SCRIPTDIR source=params.sh
. "$(dirname "${BASH_SOURCE[0]}")/params.sh" # nodegen: inline
# shellcheck source-path=SCRIPTDIR source=status.sh
. "$(dirname "${BASH_SOURCE[0]}")/status.sh" # nodegen: inline

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
# How long a run waits for another node's renewal before leaving it to the next timer run.
LEASE_WAIT=${NODEGEN_LEASE_WAIT:-1800}
START_TIME=$(date +%s)

# ---------------------------------------------------------------------------------------------
# Status, as the bootstrap program reports it
# ---------------------------------------------------------------------------------------------
# What the last check found, for status.json.
SOONEST_NAME=''
SOONEST_SECONDS=-1
DUE=()

# write_status PHASE STATE [REASON]: status.json keeps the bootstrap's fields (a renewed node is
# still ready) and adds what the renewal saw.
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

# ---------------------------------------------------------------------------------------------
# Which certificates are due
# ---------------------------------------------------------------------------------------------
kubeadm_args() { if [ -n "$ROOT" ]; then printf '%s\n' --rootfs "$ROOT"; fi; }

# One line per leaf certificate kubeadm manages here: "name<TAB>residual seconds". kubeadm reads the
# cluster's kubeadm-config (its certificatesDir) through admin.conf and falls back to its defaults
# when the API does not answer. Certificates kubeadm cannot renew (a CA key it lacks: "externally
# managed") and missing ones are left out; CAs are not leaves.
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

# The member's own certificates on an external etcd member (nodegen issued them; no CA key here).
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

# Fills SOONEST_*, DUE; prints one line per certificate. Fails when nothing could be read.
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

# ---------------------------------------------------------------------------------------------
# The Lease
# ---------------------------------------------------------------------------------------------
# admin.conf while its client certificate is valid, else super-admin.conf (control plane 0 has one).
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

# lease_doc RESOURCE_VERSION HOLDER DURATION ACQUIRE_TIME: the Lease as this node writes it. An
# update carries the resourceVersion it read, so the API server refuses it (409 Conflict) when
# another node wrote the Lease in between.
lease_doc() {
  local rv=$1 holder=$2 duration=$3 acquired=$4 now
  now=$(micro_time "$(date +%s)")
  printf 'apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: %s\n  namespace: %s\n' "$LEASE_NAME" "$LEASE_NAMESPACE"
  if [ -n "$rv" ]; then printf '  resourceVersion: "%s"\n' "$rv"; fi
  printf 'spec:\n  holderIdentity: "%s"\n  leaseDurationSeconds: %s\n  acquireTime: "%s"\n  renewTime: "%s"\n' \
    "$holder" "$duration" "${acquired:-$now}" "$now"
}

# The Lease as "resourceVersion|holder|renewTime|duration|acquireTime", or nothing. The separator
# is not whitespace, so a released Lease's empty holder stays a field of its own when read with
# IFS='|' (bash's read folds runs of whitespace separators into one).
read_lease() {
  kc get lease "$LEASE_NAME" -n "$LEASE_NAMESPACE" --ignore-not-found \
    -o jsonpath='{.metadata.resourceVersion}{"|"}{.spec.holderIdentity}{"|"}{.spec.renewTime}{"|"}{.spec.leaseDurationSeconds}{"|"}{.spec.acquireTime}'
}

# One attempt: 0 when this node holds the Lease afterwards, 1 when another does, 2 when the API
# could not be asked.
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

# acquire_lease SECONDS: waits up to SECONDS for the Lease.
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

# Renews this node's hold; fails when another node holds the Lease now.
renew_lease() {
  local current rv holder acquired attempt
  for attempt in 1 2 3; do
    current=$(read_lease) || { sleep "$POLL_INTERVAL"; continue; }
    IFS='|' read -r rv holder _ _ acquired <<<"$current"
    [ "$holder" = "$NODE" ] || return 1
    lease_doc "$rv" "$NODE" "$LEASE_SECONDS" "$acquired" | kc replace -f - >/dev/null 2>&1 && return 0
    sleep "$POLL_INTERVAL"
  done
  # A single control plane's API server is down while it restarts: its hold lasts LEASE_SECONDS.
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

# ---------------------------------------------------------------------------------------------
# Restarting the static pods one at a time
# ---------------------------------------------------------------------------------------------
api_address() {
  local ip
  ip=$(param NODE_IP)
  # A node whose address comes at boot (clouds) has an API server bound to every address.
  if [ -z "$ip" ] || [ "$ip" = 0.0.0.0 ]; then ip=127.0.0.1; fi
  printf '%s:%s' "$ip" "$(param API_SERVER_PORT)"
}

# The serial of the certificate a TLS server presents, or of a certificate file.
served_serial() { openssl s_client -connect "$1" </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null; }
file_serial() { openssl x509 -in "$1" -noout -serial 2>/dev/null; }

# grep reads the whole answer (no -q): under pipefail, a grep that quits at the first match can make
# the writer fail with SIGPIPE, and the check with it.
component_healthy() {
  case "$1" in
    etcd) curl -fsS -m 5 http://127.0.0.1:2381/health 2>/dev/null | grep -F -- '"health":"true"' >/dev/null ;;
    kube-apiserver)
      curl -fsS -m 5 --cacert "$KUBE_DIR/pki/ca.crt" "https://$(api_address)/readyz" 2>/dev/null | grep -x ok >/dev/null &&
        [ "$(served_serial "$(api_address)")" = "$(file_serial "$KUBE_DIR/pki/apiserver.crt")" ]
      ;;
    # Their serving certificates are their own, self-signed: liveness only.
    kube-controller-manager) curl -fsSk -m 5 https://127.0.0.1:10257/healthz 2>/dev/null | grep -x ok >/dev/null ;;
    kube-scheduler) curl -fsSk -m 5 https://127.0.0.1:10259/healthz 2>/dev/null | grep -x ok >/dev/null ;;
  esac
}

container_running() {
  command -v crictl >/dev/null 2>&1 || return 2
  [ -n "$(crictl ps --name "^$1\$" -q 2>/dev/null)" ]
}

# wait_for SECONDS DESCRIPTION COMMAND...
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

# Moves the manifest out until the kubelet has stopped the pod, back in, and waits until the
# component is healthy with its new certificate.
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

# A run that died with a manifest moved out puts it back first.
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
  # The API server first, so that every other component restarts against one already renewed.
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    renew_lease || { log "another node holds the Lease now"; return 1; }
    restart_component "$c" || { REASON="$c did not become healthy within ${HEALTH_TIMEOUT}s after its restart"; return 1; }
  done
}

# ---------------------------------------------------------------------------------------------
# The timer's run
# ---------------------------------------------------------------------------------------------
REASON=''
run() {
  # Nothing to do before the bootstrap has finished (it enables the timer at its end).
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
