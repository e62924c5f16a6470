#!/usr/bin/env bash
# nodegen labels: run by nodegen-labels.timer on control planes. Applies the labels the profile
# gives each node once that node has registered, and stops the timer once every node is labelled;
# idempotent, so any control plane may run it at any time. Labels under node-role.kubernetes.io/
# cannot be set by a kubelet itself (NodeRestriction), which is why a control plane applies them.
# Values come from labels.tsv, never from code.
set -Eeuo pipefail
NODEGEN_ETC=${NODEGEN_ETC:-/etc/nodegen}
LABELS_FILE=${NODEGEN_LABELS:-$NODEGEN_ETC/labels.tsv}
KUBECONFIG_FILE=${NODEGEN_KUBECONFIG:-/etc/kubernetes/admin.conf}

[ -r "$LABELS_FILE" ] || exit 0
[ -r "$KUBECONFIG_FILE" ] || exit 0

pending=0
while IFS=$'\t' read -r node key value; do
  [ -n "$node" ] || continue
  if ! kubectl --kubeconfig "$KUBECONFIG_FILE" get node "$node" >/dev/null 2>&1; then
    pending=$((pending + 1))
    continue
  fi
  kubectl --kubeconfig "$KUBECONFIG_FILE" label --overwrite node "$node" "$key=$value" >/dev/null
done <"$LABELS_FILE"

if [ "$pending" -eq 0 ]; then
  echo "nodegen-labels: every node labelled; the timer stops"
  # Nothing is left to do: the timer that runs this stops for good (a node rendered later comes
  # with a new labels.tsv and the bootstrap program starts it again).
  systemctl disable --now nodegen-labels.timer >/dev/null 2>&1 || true
else
  echo "nodegen-labels: $pending label(s) wait for their node to register"
fi
