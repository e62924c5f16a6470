#!/usr/bin/env bash
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
systemctl disable --now nodegen-labels.timer >/dev/null 2>&1 || true
else
echo "nodegen-labels: $pending label(s) wait for their node to register"
fi
