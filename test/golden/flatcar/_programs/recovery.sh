# shellcheck shell=bash
# shellcheck disable=SC2154
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
init_failed_phase() {
local phase
phase=$(sed -n 's/^\(error: \)\{0,1\}error execution phase \([a-z-]*\).*/\2/p' "$INIT_LOG" | tail -n 1)
[ -n "$phase" ] && printf '%s' "$phase"
}
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
sync_tokens() {
local attempt=1
until bash "$ROOT$(param LIB_DIR)/token-calendar.sh" sync; do
[ "$(time_left)" -le 0 ] && die "registering the token calendar's tokens failed"
log "registering the token calendar's tokens failed (attempt $attempt); retrying"
backoff "$attempt"
attempt=$((attempt + 1))
done
}
