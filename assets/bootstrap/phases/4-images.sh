# shellcheck shell=bash
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
