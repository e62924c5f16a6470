# shellcheck shell=bash
# nodegen bootstrap program, the part a control plane needs only when something fails: what the
# control plane's containers said before a reset, a kubeadm init finished from the phase that
# failed instead of reset, and the token calendar's first registration waiting for a busy API server. control-plane.sh sources it at the start of the role phase when the seed
# carries it (every control plane, except on EC2 with inline secrets, whose 16 KB of user-data has no
# room; with a secret backend it arrives in the secret bundle) and otherwise keeps its own plain
# versions of these functions. It defines functions only and uses bootstrap.sh's variables and helpers.
# shellcheck disable=SC2154

# What the control plane's containers said, printed before a reset removes them: kubeadm's own
# message names only the check that timed out, and the console is all a failed machine may show.
# The logs are read where the kubelet keeps them (/var/log/pods/<namespace>_<pod>_<uid>/<container>/
# <restart>.log, the newest start's), so no CRI client is needed.
control_plane_report() {
  local name f
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    f=$(find "$ROOT/var/log/pods" -path "*/kube-system_$name-*/$name/*.log" -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-) || true
    [ -n "$f" ] || continue
    log "last lines of ${f#"$ROOT"}:"
    tail -n 15 "$f" | cut -c1-400 | sed 's/^/  /' || true
  done
}

INIT_LOG=$STATE_DIR/kubeadm-init.log

# kubeadm init, or with a phase (one of INIT_PHASES) init again from that phase on, the phases
# before it skipped. Its output goes to the console and to INIT_LOG, one run's at a time.
run_init() {
  local skip="" p args=()
  if [ -n "${1-}" ]; then
    for p in $(param INIT_PHASES); do
      [ "$p" = "$1" ] && break
      skip="$skip,$p"
    done
    args=(--skip-phases "${skip#,}")
  fi
  kubeadm init --config "$(kubeadm_config)" --skip-token-print "${args[@]}" 2>&1 | tee "$INIT_LOG"
}

# The phase the last kubeadm init failed in ("error: error execution phase addon/coredns: ..." ->
# addon; kubeadm before 1.31 prints no "error: " in front).
init_failed_phase() {
  local phase
  phase=$(sed -n 's/^\(error: \)\{0,1\}error execution phase \([a-z-]*\).*/\2/p' "$INIT_LOG" | tail -n 1)
  [ -n "$phase" ] && printf '%s' "$phase"
}

# resume_init ATTEMPT: a kubeadm init that failed after its control plane answered (a request of the
# CoreDNS addon timing out on a busy API server) is run again from the failed phase until it
# succeeds or the deadline passes; fails, changing nothing, when the failure was earlier (INIT_RESUMABLE_PHASES).
resume_init() {
  local attempt=$1 from next
  [ -e "$KUBE_DIR/admin.conf" ] && from=$(init_failed_phase) || return 1
  case " $(param INIT_RESUMABLE_PHASES) " in *" $from "*) ;; *) return 1 ;; esac
  log "kubeadm init failed in its phase $from (attempt $attempt); running it again from there"
  until run_init "$from"; do
    [ "$(time_left)" -le 0 ] && die "kubeadm init failed until the deadline"
    if next=$(init_failed_phase); then from=$next; fi
    backoff "$attempt"
    attempt=$((attempt + 1))
  done
}

# Control plane 0 registers the token calendar's tokens right after init: an API server still busy
# then (a request timing out) is waited for, not a failure.
sync_tokens() {
  local attempt=1
  # Through bash: on the clouds the program arrives in the secret bundle, 0600.
  until bash "$ROOT$(param LIB_DIR)/token-calendar.sh" sync; do
    [ "$(time_left)" -le 0 ] && die "registering the token calendar's tokens failed"
    log "registering the token calendar's tokens failed (attempt $attempt); retrying"
    backoff "$attempt"
    attempt=$((attempt + 1))
  done
}
