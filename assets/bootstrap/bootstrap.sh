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

# ---------------------------------------------------------------------------------------------
# Phase 2: packages (skipped on a baked image)
# ---------------------------------------------------------------------------------------------
baked_value() {
  # Reads one string field of the baked-image marker without a JSON tool.
  sed -n -E "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"([^\"]*)\".*/\\1/p" "$BAKED_MARKER" | head -n 1
}

# Whether the marker lists a phase as done in the image. A marker without "phases" (schema 1 as
# the VM test image writes it) means packages only.
baked_has_phase() {
  [ -e "$BAKED_MARKER" ] || return 1
  if ! grep -q '"phases"' "$BAKED_MARKER"; then [ "$1" = packages ]; return; fi
  tr -d '\n' <"$BAKED_MARKER" | grep -Eq "\"phases\"[[:space:]]*:[[:space:]]*\\[[^]]*\"$1\""
}

check_baked_image() {
  local want have
  have=$(baked_value os)
  if [ -n "$have" ] && [ -n "$(param OS_ID)" ] && [ "$have" != "$(param OS_ID)" ]; then
    die "this image was baked for $have but the profile says this node runs $(param OS_ID): boot it from a $(param OS_ID) image (nodegen image build --os $(param OS_ID)) or set the node's os to $have"
  fi
  want=$(param KUBERNETES_VERSION)
  have=$(baked_value kubernetesVersion)
  have=${have#v}
  if [ "$have" != "$want" ]; then
    die "this image was baked for Kubernetes ${have:-unknown} but the profile asks for $want: rebuild the image (nodegen image build) or set spec.kubernetes.version to $have"
  fi
  have=$(baked_value containerRuntime)
  if [ -n "$have" ] && [ "$have" != "$(param RUNTIME)" ]; then
    die "this image was baked with runtime $have but the profile asks for $(param RUNTIME)"
  fi
  # An image baked before containerd was pinned records no version: nothing to compare.
  have=$(baked_value containerdVersion)
  want=$(param CONTAINERD_VERSION)
  if [ -n "$have" ] && [ -n "$want" ] && [ "$have" != "$want" ]; then
    die "this image was baked with containerd $have but the profile asks for $want: rebuild the image (nodegen image build) or set spec.containerRuntime.version to $have"
  fi
}

install_packages() {
  if [ -e "$BAKED_MARKER" ]; then check_baked_image; fi
  if baked_has_phase packages; then
    log "baked image ($BAKED_MARKER): packages present, installation skipped"
  else
    case "$(param OS_FAMILY)" in
      flatcar) log "Flatcar: Kubernetes comes from the systemd-sysext image Ignition placed in /etc/extensions" ;;
      *)
        [ -x "$INSTALL_SCRIPT" ] || die "no baked-image marker ($BAKED_MARKER) and no $INSTALL_SCRIPT: this node cannot install packages"
        "$INSTALL_SCRIPT" "$PARAMS_FILE"
        ;;
    esac
  fi
  if is_family flatcar; then
    # systemd loaded its units before systemd-sysext merged the image: make kubelet.service known.
    systemctl daemon-reload
    check_sysext_kubernetes
  fi
  configure_runtime
  unit_files enable kubelet >/dev/null 2>&1 || true
  # The packages brought the time service (chrony) the prepare phase found missing; installs start
  # no service by themselves.
  start_time_sync
}

# Flatcar: kubeadm and kubelet are the merged sysext's (/usr/bin); /usr is read-only, so a missing
# or wrong image can only be fixed by the profile (spec.kubernetes.version, sysextRepository).
check_sysext_kubernetes() {
  local want have
  want=$(param KUBERNETES_VERSION)
  if ! command -v kubeadm >/dev/null 2>&1 || ! command -v kubelet >/dev/null 2>&1; then
    die "kubeadm/kubelet are not on PATH: the kubernetes sysext is not merged (see /etc/extensions/kubernetes.raw and systemd-sysext status)"
  fi
  have=$(kubeadm version -o short 2>/dev/null) || die "kubeadm version failed"
  [ "${have#v}" = "$want" ] || die "the kubernetes sysext has kubeadm $have but the profile asks for $want"
}

configure_runtime() {
  case "$(param RUNTIME)" in
    containerd)
      unit_files enable containerd >/dev/null 2>&1 || true
      systemctl restart containerd
      ;;
    cri-o)
      unit_files enable crio >/dev/null 2>&1 || true
      systemctl restart crio
      ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Phase 3: firewall (after the packages: on EL that phase is what installs firewalld)
# ---------------------------------------------------------------------------------------------
configure_firewall() {
  local mode
  mode=$(param FIREWALL)
  if [ -z "$mode" ]; then
    # The planner leaves the firewall out where the OS has none to configure (Flatcar).
    log "no firewall step planned for $(param OS_ID)"
    return 0
  fi
  if [ "$mode" = disabled ]; then
    if systemctl list-unit-files firewalld.service >/dev/null 2>&1; then unit_files disable --now firewalld >/dev/null 2>&1 || true; fi
    return 0
  fi
  # Opening the ports is firewall.sh's, shipped only to the nodes that open them (a cloud's user-data
  # is small).
  local script
  script="$ROOT$(param LIB_DIR)/firewall.sh"
  [ -r "$script" ] || die "no $script: the seed of a node that opens its firewall carries it"
  # shellcheck source=/dev/null # checked on its own (firewall.sh)
  . "$script"
  open_firewall_ports
}

# ---------------------------------------------------------------------------------------------
# Phase 4: images (control planes pre-pull what kubeadm will run)
# ---------------------------------------------------------------------------------------------
# Whether the runtime has an image, by reference.
have_image() {
  if command -v crictl >/dev/null 2>&1; then
    crictl inspecti "$1" >/dev/null 2>&1
  elif [ "$(param RUNTIME)" = containerd ]; then
    # grep reads the whole list (no -q): ctr writes a line at a time, and under pipefail a grep that
    # quits at the first match makes ctr's next write fail with SIGPIPE, the pipeline with it.
    ctr -n k8s.io images ls -q 2>/dev/null | grep -xF -- "$1" >/dev/null
  else
    return 1
  fi
}

# Whether every image kubeadm lists for this configuration is in the runtime already.
kubeadm_images_present() {
  local list img
  list=$(kubeadm config images list --config "$NODEGEN_ETC/kubeadm/config.yaml" 2>/dev/null) || return 1
  [ -n "$list" ] || return 1
  for img in $list; do have_image "$img" || return 1; done
}

pull_images() {
  # Air-gapped with a bundle: every role imports the images it runs (the pause image, kube-proxy and
  # the CNI's on every node) before the kubelet needs them.
  # An image baked from the very bundle the profile pins holds all of its images already: the node
  # then needs no bundle at boot.
  if [ -n "$(param BUNDLE_URL)" ]; then
    if baked_has_phase images && [ -n "$(param BUNDLE_SHA256)" ] && [ "$(baked_value bundleSha256)" = "$(param BUNDLE_SHA256)" ]; then
      log "baked image: the images of the air-gap bundle $(param BUNDLE_SHA256) are in the image, import skipped"
    else
      "$ROOT$(param LIB_DIR)/bundle.sh" "$PARAMS_FILE" import-images || die "the air-gap bundle's images could not be imported (see the lines above)"
    fi
  fi
  [ "$ROLE" = control-plane ] || return 0
  if baked_has_phase images && [ "$(baked_value imageRepository)" = "$(param IMAGE_REPOSITORY)" ]; then
    log "baked image: the images of Kubernetes $(param KUBERNETES_VERSION) from $(param IMAGE_REPOSITORY) are pre-pulled, pull skipped"
    return 0
  fi
  if kubeadm_images_present; then
    log "every image kubeadm needs is in the runtime, pull skipped"
    return 0
  fi
  local attempt=1
  until kubeadm config images pull --config "$NODEGEN_ETC/kubeadm/config.yaml"; do
    [ "$attempt" -ge 3 ] && { log "image pre-pull failed; kubeadm will pull during init/join"; return 0; }
    backoff "$attempt"
    attempt=$((attempt + 1))
  done
}

# ---------------------------------------------------------------------------------------------
# Phase 5: role
# ---------------------------------------------------------------------------------------------
# Nodes of a role from nodes.tsv: "name<TAB>role<TAB>ordinal<TAB>ip".
node_ips() {
  local want=$1 role ip
  while IFS=$'\t' read -r _ role _ ip; do
    [ "$role" = "$want" ] && printf '%s\n' "$ip"
  done <"$NODES_FILE"
  return 0
}

endpoint_ready() {
  curl -fsS -m 5 --cacert "$CA_CERT" "https://$ENDPOINT/readyz" 2>/dev/null | grep -qx ok
}


# The join configuration with the token of the window we are in: a node rendered for one window
# that boots after it ends uses the next window's token (see the token calendar).
kubeadm_config() {
  local next="$NODEGEN_ETC/kubeadm/config-next.yaml" from
  if [ -n "${JOIN_CONFIG_OVERRIDE-}" ]; then
    printf '%s' "$JOIN_CONFIG_OVERRIDE"
    return 0
  fi
  from=$(param TOKEN_NEXT_FROM)
  if [ -r "$next" ] && [ -n "$from" ] && [ "${NODEGEN_NOW:-$(date +%s)}" -ge "$from" ]; then
    printf '%s' "$next"
  else
    printf '%s' "$NODEGEN_ETC/kubeadm/config.yaml"
  fi
}


# Control plane 0's join configuration for when it boots with nothing of its own and finds the
# cluster running (cluster_exists, control-plane.sh); the clean-up removes it with the token.
REJOIN_CONFIG="$NODEGEN_ETC/kubeadm/rejoin.yaml"

kubectl_admin() { kubectl --kubeconfig "$KUBE_DIR/admin.conf" "$@"; }

# `kubeadm reset -f` deletes the contents of the certificates directory (its cleanup-node phase),
# the CAs nodegen placed there included, and a retried init or join would then fail for want of
# them. So the placed files are kept aside (root-only) before the first kubeadm run and put back
# after every reset; the clean-up phase removes the copy.
PLACED_PKI="$STATE_DIR/placed-pki"
keep_placed_pki() {
  [ -d "$PLACED_PKI" ] && return 0
  [ -d "$KUBE_DIR/pki" ] || return 0
  rm -rf "$PLACED_PKI.tmp"
  cp -a "$KUBE_DIR/pki" "$PLACED_PKI.tmp"
  chmod 0700 "$PLACED_PKI.tmp"
  mv "$PLACED_PKI.tmp" "$PLACED_PKI"
}
kubeadm_reset() {
  kubeadm reset -f || true
  if [ -d "$PLACED_PKI" ]; then
    mkdir -p "$KUBE_DIR/pki"
    cp -a "$PLACED_PKI/." "$KUBE_DIR/pki/"
  fi
}


# kubeadm join's discovery needs the cluster-info ConfigMap signed for its token: the bootstrap
# signer in kube-controller-manager adds jws-kubeconfig-<token id> once the token's Secret exists.
# A node that starts before control plane 0 registered its token (the token calendar runs after
# init) would otherwise spend kubeadm's 5-minute discovery timeout and a reset. So the node waits
# for the signature, up to CLUSTER_INFO_GRACE seconds, then lets kubeadm try (and say why). An
# endpoint that serves no cluster-info at all is not waited for.
CLUSTER_INFO_GRACE=${NODEGEN_CLUSTER_INFO_GRACE:-600}
join_token_id() {
  sed -n 's/^[[:space:]]*token:[[:space:]]*"\{0,1\}\([a-z0-9]\{6\}\)\.[a-z0-9]\{16\}"\{0,1\}[[:space:]]*$/\1/p' "$(kubeadm_config)" | head -n 1
}
cluster_info_signed() {
  local id=$1 body code
  [ $(($(date +%s) - CLUSTER_INFO_WAIT_START)) -ge "$CLUSTER_INFO_GRACE" ] && return 0
  body=$(curl -sS -m 5 --cacert "$CA_CERT" -w '\n%{http_code}' \
    "https://$ENDPOINT/api/v1/namespaces/kube-public/configmaps/cluster-info" 2>/dev/null) || return 1
  code=${body##*$'\n'}
  case "$code" in
    200) [[ "$body" == *"\"jws-kubeconfig-$id\""* ]] ;;
    404) return 0 ;;
    *) return 1 ;;
  esac
}

# The rest of a stacked control plane's join once its etcd member votes: kubeadm join again with the
# phases up to its etcd membership skipped (JOIN_RESUME_SKIP_PHASES, by the Kubernetes minor), and
# the kubelet's start too if its TLS bootstrap already wrote kubelet.conf (kubeadm's wait deletes the
# bootstrap credential when it gives up, so a kubelet without kubelet.conf needs kubelet-start again).
resume_join() {
  local skip
  skip=$(param JOIN_RESUME_SKIP_PHASES)
  [ -s "$KUBE_DIR/kubelet.conf" ] && skip="$skip,kubelet-start"
  log "kubeadm join, skipping its phases $skip"
  kubeadm join --config "$(kubeadm_config)" --skip-phases "$skip" 2>&1 | tee -a "$STATE_DIR/kubeadm-join.log"
}

role_join() {
  wait_until "API endpoint https://$ENDPOINT/readyz (TLS verified against the cluster CA)" endpoint_ready
  local token_id
  token_id=$(join_token_id)
  if [ -n "$token_id" ] && [ ! -e "$STATE_DIR/done/kubeadm-join" ]; then
    CLUSTER_INFO_WAIT_START=$(date +%s)
    wait_until "cluster-info signed for bootstrap token $token_id (for ${CLUSTER_INFO_GRACE}s)" cluster_info_signed "$token_id"
  fi
  if [ "$ROLE" = control-plane ] && [ "$(param TOPOLOGY)" != external ]; then
    # shellcheck disable=SC2034 # read by etcd_ready_for_join (control-plane.sh)
    JOIN_WAIT_START=$(date +%s)
    wait_until "etcd ready for a new member (started voters a majority, no learner; the control planes before this one, for ${JOIN_ORDER_GRACE}s)" etcd_ready_for_join
  fi
  [ "$ROLE" = control-plane ] && start_endpoint_services before-join
  if [ -e "$STATE_DIR/done/kubeadm-join" ]; then
    [ "$ROLE" = control-plane ] && start_endpoint_services after
    return 0
  fi
  keep_placed_pki
  local attempt=1 out
  while :; do
    if [ "$ROLE" = control-plane ] && [ "$(param TOPOLOGY)" != external ]; then remove_stale_etcd_member; fi
    # kubeadm's output goes out as it comes (a join takes minutes) and to a file for the checks below.
    if kubeadm join --config "$(kubeadm_config)" 2>&1 | tee "$STATE_DIR/kubeadm-join.log"; then break; fi
    out=$(<"$STATE_DIR/kubeadm-join.log")
    [ "$(time_left)" -le 0 ] && die "kubeadm join failed until the deadline: $(printf '%s' "$out" | tail -n 1)"
    if [ -n "$(param JOIN_RESUME_SKIP_PHASES)" ]; then
      # Not knowing is no licence to reset: the node waits until etcd says.
      wait_until "etcd listing this node's own member (a voter is kept, not reset)" own_etcd_member_known
      if [ "$OWN_ETCD_MEMBER" = voter ]; then
        log "kubeadm join failed after this node's etcd member started voting (attempt $attempt); finishing the join's remaining phases instead of resetting, which would take a voter out of etcd"
        until resume_join; do
          [ "$(time_left)" -le 0 ] && die "kubeadm join's remaining phases failed until the deadline: $(tail -n 1 "$STATE_DIR/kubeadm-join.log")"
          backoff "$attempt"
          attempt=$((attempt + 1))
        done
        break
      fi
    fi
    if printf '%s' "$out" | grep -q 'too many learner members'; then
      log "etcd has a learner being promoted; waiting before retrying (attempt $attempt)"
    else
      log "kubeadm join failed (attempt $attempt); resetting and retrying"
    fi
    [ "$ROLE" = control-plane ] && control_plane_report
    kubeadm_reset >/dev/null 2>&1
    [ "$ROLE" = control-plane ] && start_endpoint_services before-join
    backoff "$attempt"
    attempt=$((attempt + 1))
    if [ "$ROLE" = control-plane ] && [ "$(param TOPOLOGY)" != external ]; then
      # A join that failed after adding this node as a learner left that learner behind (etcd may
      # take it only after the join gave up); the wait looks past it and the loop removes it.
      remove_stale_etcd_member
      wait_until "etcd ready for a new member" etcd_ready_for_join
    fi
  done
  : >"$STATE_DIR/done/kubeadm-join"
  [ "$ROLE" = control-plane ] && start_endpoint_services after
  return 0
}


role_phase() {
  case "$ROLE" in
    etcd)
      role_etcd
      start_cert_renewal
      ;;
    control-plane)
      load_recovery
      if [ "$ORDINAL" = 0 ]; then
        role_init
        start_token_calendar
        install_cni
      else
        role_join
        start_token_calendar
      fi
      apply_labels
      start_cert_renewal
      ;;
    worker) role_join ;;
    *) die "unknown role" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Phase 6: clean-up and report
# ---------------------------------------------------------------------------------------------
cleanup_secrets() {
  if [ "$(param KEEP_SECRETS)" = 1 ]; then
    log "keepSecrets is set: cloud-init's user-data and the parameter files are kept"
    return 0
  fi
  # cloud-init keeps the raw user-data (with the token and, on control planes, CA keys) for the
  # instance's life; kubeadm needs only what it placed under /etc/kubernetes.
  local f cloud="$ROOT/var/lib/cloud"
  for f in "$cloud/instance/user-data.txt" "$cloud/instance/user-data.txt.i" \
    "$cloud/instance/cloud-config.txt" "$cloud/instance/obj.pkl"; do
    if [ -e "$f" ]; then rm -f "$f"; fi
  done
  if [ -d "$cloud/instances" ]; then
    find "$cloud/instances" -maxdepth 2 \( -name 'user-data.txt*' -o -name 'cloud-config.txt' -o -name 'obj.pkl' \) -delete 2>/dev/null || true
  fi
  if [ -e "$cloud/instance/scripts" ]; then rm -rf "$cloud/instance/scripts"; fi
  rm -f "$NODEGEN_ETC/kubeadm/config.yaml" "$NODEGEN_ETC/kubeadm/config-next.yaml" "$REJOIN_CONFIG" "$STATE_DIR/etcd-probe.key" "$STATE_DIR/etcd-probe.crt"
  rm -rf "$PLACED_PKI"
  return 0
}

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
