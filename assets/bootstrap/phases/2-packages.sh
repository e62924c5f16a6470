# shellcheck shell=bash
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
