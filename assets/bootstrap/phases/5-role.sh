# shellcheck shell=bash
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
