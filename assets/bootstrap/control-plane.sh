# shellcheck shell=bash
# nodegen bootstrap program, the part only control planes and etcd members run: etcd membership
# (probe certificate, member list, readiness for a new member, replacing a stale member), the
# endpoint's services, kubeadm init, the token calendar, the CNI and the labeller. bootstrap.sh
# sources it on those nodes; it defines functions only and uses bootstrap.sh's variables and helpers.
# shellcheck disable=SC2154

ETCD_PKI="$KUBE_DIR/pki/etcd"
etcd_client_args() {
  if [ "$ROLE" = etcd ]; then
    # An external etcd member has its own healthcheck client certificate (signed by the etcd CA).
    printf '%s\n' --cacert "$ETCD_PKI/ca.crt" --cert "$ETCD_PKI/healthcheck-client.crt" --key "$ETCD_PKI/healthcheck-client.key"
  elif [ "$(param TOPOLOGY)" = external ]; then
    printf '%s\n' --cacert "$ETCD_PKI/ca.crt" --cert "$KUBE_DIR/pki/apiserver-etcd-client.crt" --key "$KUBE_DIR/pki/apiserver-etcd-client.key"
  else
    ensure_etcd_probe_cert
    printf '%s\n' --cacert "$ETCD_PKI/ca.crt" --cert "$STATE_DIR/etcd-probe.crt" --key "$STATE_DIR/etcd-probe.key"
  fi
}

# A stacked control plane holds the etcd CA (kubeadm's manual certificate distribution), so before
# it joins it can make itself a short-lived client certificate to ask etcd how many members run.
ensure_etcd_probe_cert() {
  [ -s "$STATE_DIR/etcd-probe.crt" ] && return 0
  local tmp
  tmp=$(mktemp -d "$STATE_DIR/probe.XXXXXX")
  printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' >"$tmp/ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=nodegen-etcd-probe" \
    -keyout "$tmp/probe.key" -out "$tmp/probe.csr" >/dev/null 2>&1
  openssl x509 -req -in "$tmp/probe.csr" -CA "$ETCD_PKI/ca.crt" -CAkey "$ETCD_PKI/ca.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
    -days 2 -extfile "$tmp/ext" -out "$tmp/probe.crt" >/dev/null 2>&1
  chmod 0600 "$tmp/probe.key" "$tmp/probe.crt"
  mv -f "$tmp/probe.key" "$STATE_DIR/etcd-probe.key"
  mv -f "$tmp/probe.crt" "$STATE_DIR/etcd-probe.crt"
  rm -rf "$tmp"
}

etcd_healthy_at() {
  local ip=$1 args
  mapfile -t args < <(etcd_client_args)
  curl -fsS -m 5 "${args[@]}" "https://$ip:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'
}

# The etcd cluster's members, one flat JSON object a line (a member's arrays hold only strings, so
# objects can be split out), as the first member that answers lists them; $1, if given, is an
# address not to ask. Fails when none answers.
etcd_member_objects() {
  local skip=${1-} ip args body
  mapfile -t args < <(etcd_client_args)
  for ip in $(node_ips control-plane) $(node_ips etcd); do
    [ "$ip" = "$skip" ] && continue
    body=$(curl -fsS -m 5 "${args[@]}" -X POST -d '{}' "https://$ip:$ETCD_PORT/v3/cluster/member/list" 2>/dev/null) || continue
    printf '%s' "$body" | tr -d '\n' | grep -o '{[^{}]*}' | grep '"peerURLs"' || true
    return 0
  done
  return 1
}

# The member objects on standard input whose peer URL is this node's (kubeadm's
# https://<node IP>:2380), or with -v the others; grep's status.
own_peer_members() { grep -F "$@" -e "\"https://$(param NODE_IP):2380\""; }

# Started voting members of the etcd cluster, asked of any member that answers. A member that is
# still a learner or has not started (no name yet) does not count.
etcd_started_members() {
  local members
  members=$(etcd_member_objects) || {
    echo 0
    return 0
  }
  printf '%s\n' "$members" | grep '"name":"[^"]' | grep -vc '"isLearner":true' || true
}

# Whether a control plane may join etcd now: a member answers, a majority of the members have
# started as voters (the cluster keeps its quorum while the newcomer catches up) and no learner is
# being promoted (etcd takes one at a time). Control planes keep their ordinal order while it
# costs nothing (control plane k waits for k started members, so they do not race for the one
# learner slot), but only for JOIN_ORDER_GRACE seconds: a dead control plane 1 must not keep
# control plane 2 out for good. Two that then find etcd ready together race, etcd refuses the
# second learner, and that one retries.
JOIN_ORDER_GRACE=${NODEGEN_JOIN_ORDER_GRACE:-300}
JOIN_WAIT_START=
etcd_ready_for_join() {
  local members total started learners
  members=$(etcd_member_objects) || return 1
  # A member with this node's own peer URL is a leftover of its own (a join that failed after etcd
  # took it as a learner, possibly only after the join gave up): it is removed just before the next
  # join, so it counts neither as a learner in the way nor toward the quorum.
  members=$(printf '%s\n' "$members" | own_peer_members -v || true)
  total=$(printf '%s\n' "$members" | grep -c '"peerURLs"' || true)
  learners=$(printf '%s\n' "$members" | grep -c '"isLearner":true' || true)
  started=$(printf '%s\n' "$members" | grep '"name":"[^"]' | grep -vc '"isLearner":true' || true)
  [ "$started" -ge 1 ] && [ "$learners" -eq 0 ] && [ $((started * 2)) -gt "$total" ] || return 1
  [ "$started" -ge "$ORDINAL" ] && return 0
  [ $(($(date +%s) - JOIN_WAIT_START)) -ge "$JOIN_ORDER_GRACE" ]
}

etcd_quorum() {
  local ip healthy=0 total=0
  for ip in $(node_ips etcd); do
    total=$((total + 1))
    if etcd_healthy_at "$ip"; then healthy=$((healthy + 1)); fi
  done
  [ "$total" -gt 0 ] && [ "$healthy" -gt $((total / 2)) ]
}

# keepalived given an interface the machine lacks runs on in its FAULT state, never raising the VIP;
# say so at once. (The tests' temporary roots run on a host whose interfaces are not the node's.)
check_vip_interface() {
  local iface
  iface=$(param VIP_INTERFACE)
  [ -n "$iface" ] && [ -z "$ROOT" ] || return 0
  [ -e "/sys/class/net/$iface" ] && return 0
  die "the VIP interface $iface (spec.loadBalancer.interface, else the node's interface) does not exist on this node, so keepalived cannot hold $(param ENDPOINT_HOST); its interfaces: $(cd /sys/class/net && printf '%s ' *)"
}

# The endpoint's services at a stage of the role: before-init, before-join, after (kubeadm init or
# join done) or rerun (a run after the role was done before). keepalived and haproxy run before
# kubeadm, so the endpoint answers while it waits for it. kube-vip is a static pod: before
# `kubeadm init` it runs with super-admin.conf (admin.conf's RBAC does not exist until init has
# made it, kube-vip's documented workaround), but a join refuses a non-empty manifests directory
# (its preflight DirAvailable check) and writes no super-admin.conf, so a joining control plane,
# control plane 0 rebuilt included, gets kube-vip with admin.conf once its join is done.
start_endpoint_services() {
  local stage=$1
  case "$(param LB_TYPE)" in
    keepalived-haproxy)
      [ "$stage" = after ] && return 0
      check_vip_interface
      unit_files enable haproxy keepalived >/dev/null 2>&1 || true
      systemctl restart haproxy
      systemctl restart keepalived
      ;;
    keepalived)
      [ "$stage" = after ] && return 0
      check_vip_interface
      unit_files enable keepalived >/dev/null 2>&1 || true
      systemctl restart keepalived
      ;;
    kube-vip)
      case "$stage" in
        before-join) return 0 ;;
        before-init)
          mkdir -p "$KUBE_DIR/manifests"
          install -m 0600 "$NODEGEN_ETC/kube-vip-init.yaml" "$KUBE_DIR/manifests/kube-vip.yaml"
          ;;
        *)
          mkdir -p "$KUBE_DIR/manifests"
          install -m 0600 "$NODEGEN_ETC/kube-vip.yaml" "$KUBE_DIR/manifests/kube-vip.yaml"
          ;;
      esac
      ;;
  esac
}

# An external etcd member that boots with an empty data directory while the cluster runs (its disk
# was lost, or the machine replaced) cannot start again as a founding member
# (--initial-cluster-state=new): etcd refuses a member whose data it does not have. As for stacked
# members (kubeadm's join path), its old member is removed through another member and it is added
# back, and it starts as an "existing" member. A member that never started (a late first boot)
# still has its founding slot and starts as rendered.
rejoin_etcd_if_replaced() {
  local me mine id args ip manifest="$KUBE_DIR/manifests/etcd.yaml" removed=0
  [ -d "$ROOT/var/lib/etcd/member" ] && return 0
  me=$(param NODE_IP)
  mine=$(etcd_member_objects "$me" | own_peer_members) || return 0
  printf '%s' "$mine" | grep -q '"name":"[^"]' || return 0
  id=$(printf '%s' "$mine" | sed -n -E 's/.*"ID":"?([0-9]+)"?.*/\1/p' | head -n 1)
  [[ "$id" =~ ^[0-9]+$ ]] || die "cannot read this node's etcd member ID from the member list"
  mapfile -t args < <(etcd_client_args)
  for ip in $(node_ips etcd); do
    [ "$ip" = "$me" ] && continue
    if curl -fsS -m 10 "${args[@]}" -X POST -d "{\"ID\":\"$id\"}" "https://$ip:$ETCD_PORT/v3/cluster/member/remove" >/dev/null 2>&1 &&
      curl -fsS -m 10 "${args[@]}" -X POST -d "{\"peerURLs\":[\"https://$me:2380\"]}" "https://$ip:$ETCD_PORT/v3/cluster/member/add" >/dev/null 2>&1; then
      removed=1
      break
    fi
  done
  [ "$removed" = 1 ] || die "this etcd member's data is gone and its old member $(printf '%x' "$id") could not be replaced through another member"
  sed -i -E 's/--initial-cluster-state=new/--initial-cluster-state=existing/' "$manifest"
  log "replaced this node's etcd member $(printf '%x' "$id") (its data was gone); it starts as an existing member"
}

role_etcd() {
  rejoin_etcd_if_replaced
  systemctl daemon-reload
  unit_files enable kubelet >/dev/null 2>&1 || true
  systemctl restart kubelet
  wait_until "local etcd member healthy" etcd_healthy_local
}
etcd_healthy_local() {
  curl -fsS -m 5 --cacert "$ETCD_PKI/ca.crt" --cert "$ETCD_PKI/healthcheck-client.crt" --key "$ETCD_PKI/healthcheck-client.key" \
    "https://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'
}

# Control planes keep the token calendar's tokens registered; right after init, so that nodes
# rendered for this window can join at once.
start_token_calendar() {
  [ -r "$NODEGEN_ETC/calendar.env" ] || return 0
  if [ "$ROLE" = control-plane ] && [ "$ORDINAL" = 0 ]; then sync_tokens; fi
  unit_files enable --now nodegen-tokens.timer >/dev/null 2>&1 || true
}

cluster_exists() {
  endpoint_ready && return 0
  if [ "$(param TOPOLOGY)" != external ] && [ "$(etcd_started_members)" -ge 1 ]; then return 0; fi
  return 1
}

# recovery.sh's functions as they are where the seed has no room for it: kubeadm init as such, a
# failed init reset, no report, one try at the token calendar (a failed run is restarted by systemd).
run_init() { kubeadm init --config "$(kubeadm_config)" --skip-token-print; }
resume_init() { return 1; }
control_plane_report() { :; }
# Through bash: on the clouds the program arrives in the secret bundle, 0600.
sync_tokens() { bash "$ROOT$(param LIB_DIR)/token-calendar.sh" sync || die "registering the token calendar's tokens failed"; }
load_recovery() {
  local f
  f="$ROOT$(param LIB_DIR)/recovery.sh"
  # shellcheck source=/dev/null # checked on its own (recovery.sh)
  if [ -r "$f" ]; then . "$f"; fi
}

role_init() {
  if [ "$(param TOPOLOGY)" = external ]; then wait_until "external etcd quorum" etcd_quorum; fi
  if [ -e "$KUBE_DIR/admin.conf" ] && [ -e "$STATE_DIR/done/kubeadm-init" ]; then
    start_endpoint_services rerun
    return 0
  fi
  # Asked before keepalived starts here: a control plane 0 that comes back must not raise the VIP
  # (it has the highest priority) and then restart keepalived on the join path, moving it twice.
  if [ -e "$STATE_DIR/done/kubeadm-join" ] || cluster_exists; then
    log "the cluster already exists (its endpoint or etcd answers): joining it as a control plane instead of initialising it"
    [ -r "$REJOIN_CONFIG" ] || die "the cluster already exists and there is no $REJOIN_CONFIG to join it with: render this node again with this version of nodegen"
    JOIN_CONFIG_OVERRIDE=$REJOIN_CONFIG role_join
    return 0
  fi
  start_endpoint_services before-init
  keep_placed_pki
  local attempt=1
  until run_init; do
    [ "$(time_left)" -le 0 ] && die "kubeadm init failed until the deadline"
    resume_init "$attempt" && break
    [ "$attempt" -ge 5 ] && die "kubeadm init failed $attempt times"
    log "kubeadm init failed (attempt $attempt); resetting and retrying"
    control_plane_report
    kubeadm_reset
    start_endpoint_services before-init
    backoff "$attempt"
    attempt=$((attempt + 1))
  done
  : >"$STATE_DIR/done/kubeadm-init"
  # kube-vip needed super-admin.conf only until admin.conf's RBAC existed (kubeadm >= 1.29).
  start_endpoint_services after
}

install_cni() {
  local cni file url tmp content from to
  cni=$(param CNI)
  [ "$cni" = none ] && return 0
  file=$(param CNI_MANIFEST_FILE)
  url=$(param CNI_MANIFEST_URL)
  tmp="$STATE_DIR/cni.yaml"
  if [ -n "$file" ]; then
    cp "$ROOT$file" "$tmp"
  else
    local attempt=1 want have
    want=$(param CNI_MANIFEST_SHA256)
    want=${want,,}
    while :; do
      if curl -fsSL --retry 3 -m 120 "$url" -o "$tmp"; then
        # spec.networking.cni.manifestSha256: what is applied with cluster-admin rights is what the
        # profile pinned, not whatever the URL serves today.
        [ -z "$want" ] && break
        have=$(sha256sum "$tmp" | cut -d ' ' -f 1)
        [ "$have" = "$want" ] && break
        log "the $cni manifest from $url has sha256 $have, the profile pins $want (attempt $attempt)"
        [ "$attempt" -ge 5 ] && die "the $cni manifest from $url has sha256 $have but spec.networking.cni.manifestSha256 is $want: it was not applied"
      fi
      [ "$attempt" -ge 5 ] && die "cannot download the $cni manifest from $url"
      backoff "$attempt"
      attempt=$((attempt + 1))
    done
  fi
  if [ -n "$(param CNI_IMAGE_MIRROR)$(param CNI_IMAGE_MIRRORS_FILE)" ]; then
    # shellcheck source=/dev/null # checked on its own (cni-mirror.sh)
    . "$ROOT$(param LIB_DIR)/cni-mirror.sh"
    mirror_cni_images "$tmp"
  fi
  from=$(param CNI_DEFAULT_POD_SUBNET)
  to=$(param POD_SUBNET)
  if [ -n "$from" ] && [ "$from" != "$to" ]; then
    # The manifest hard-codes its default pod network (flannel's net-conf.json): substitute ours
    # as plain text, no regular expression or evaluation involved.
    content=$(<"$tmp")
    printf '%s\n' "${content//"$from"/"$to"}" >"$tmp"
  fi
  local attempt=1
  until kubectl_admin apply -f "$tmp"; do
    [ "$attempt" -ge 10 ] && die "kubectl apply of the $cni manifest failed"
    backoff "$attempt"
    attempt=$((attempt + 1))
  done
}

# The certificate renewal timer (cert-renewal.sh), once the node is in its cluster; its service
# waits for the bootstrap's end (ConditionPathExists on the cleanup phase's marker). A node without
# the program (EC2 with inline secrets: no room in its user-data) has no timer either.
start_cert_renewal() {
  [ -e "$ROOT$(param LIB_DIR)/cert-renewal.sh" ] || return 0
  unit_files enable --now nodegen-cert-renewal.timer >/dev/null 2>&1 || log "could not start nodegen-cert-renewal.timer"
}

apply_labels() {
  [ -r "$NODEGEN_ETC/labels.tsv" ] || return 0
  unit_files enable --now nodegen-labels.timer >/dev/null 2>&1 || true
}

# This node's member in the etcd cluster, by its peer URL (kubeadm's https://<node IP>:2380): its
# ID, asked of another control plane's etcd, or nothing.
own_etcd_member_id() {
  local me
  me=$(param NODE_IP)
  etcd_member_objects "$me" | own_peer_members | sed -n -E 's/.*"ID":"?([0-9]+)"?.*/\1/p' | head -n 1 || true
}

# This node's own member in etcd, as the first member that answers lists it (this node's own etcd
# included: it may answer when a busy control plane 0 does not): OWN_ETCD_MEMBER is "voter",
# "learner" or "none". Fails when no member answers, which says nothing either way. A voter counts
# in the cluster's quorum, so a join that fails after that (the kubelet's TLS bootstrap, the
# control-plane-join or wait-control-plane phases) must not be undone by `kubeadm reset`, whose
# member removal and stopped etcd would take a vote from a cluster that may not spare one.
OWN_ETCD_MEMBER=
# shellcheck disable=SC2034 # read by role_join (bootstrap.sh)
own_etcd_member_known() {
  local members mine
  members=$(etcd_member_objects) || return 1
  mine=$(printf '%s\n' "$members" | own_peer_members || true)
  if [ -z "$mine" ]; then
    OWN_ETCD_MEMBER=none
  elif [[ "$mine" == *'"isLearner":true'* ]]; then
    OWN_ETCD_MEMBER=learner
  else
    OWN_ETCD_MEMBER=voter
  fi
}

# A control plane about to join holds no etcd data (its join is not done), so a member with its
# peer URL is a leftover: of this machine before its disk was lost, or of a join attempt that failed
# half-way. kubeadm's join would refuse it (its check-etcd wants every member healthy, and etcd
# refuses a second member with the same peer URL), and an operator would `etcdctl member remove` it:
# so does this, through another member, and only that member.
remove_stale_etcd_member() {
  local id ip args
  id=$(own_etcd_member_id)
  [ -n "$id" ] || return 0
  [[ "$id" =~ ^[0-9]+$ ]] || return 0
  mapfile -t args < <(etcd_client_args)
  for ip in $(node_ips control-plane); do
    [ "$ip" = "$(param NODE_IP)" ] && continue
    if curl -fsS -m 10 "${args[@]}" -X POST -d "{\"ID\":\"$id\"}" "https://$ip:$ETCD_PORT/v3/cluster/member/remove" >/dev/null 2>&1; then
      log "removed this node's stale etcd member $(printf '%x' "$id") (peer URL https://$(param NODE_IP):2380) before joining"
      return 0
    fi
  done
  log "could not remove this node's stale etcd member $(printf '%x' "$id"); kubeadm join will say why"
}
