# shellcheck shell=bash
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
