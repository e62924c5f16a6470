#!/usr/bin/env bash
# nodegen image bake: what `nodegen image build` runs inside the Packer build VM, one step per
# Packer provisioner (files, packages, images, marker, cleanup), so a node booted from the image
# skips what first boot would otherwise do. The packages step runs the very install-packages.sh
# first boot runs; the files are the OS preparation files the planner emits for every node.
#
# Usage: bake.sh STEP [DIR]   (DIR holds image.env, files/, files.tsv, images.txt, scripts/)
#
# Nothing here comes from a profile: parameters are read from DIR/image.env (KEY=VALUE lines,
# assigned verbatim, never sourced) and only ever used quoted.
set -Eeuo pipefail
umask 022

STEP=${1:?usage: bake.sh STEP [DIR]}
DIR=${2:-/tmp/nodegen-image}
# NODEGEN_ROOT prefixes every path written; only the tests set it (a temporary root).
ROOT=${NODEGEN_ROOT:-}
PARAMS_FILE="$DIR/image.env"
MARKER="$ROOT/etc/nodegen/image.json"

log() { printf 'nodegen-image: %s\n' "$*"; }
die() {
  printf 'nodegen-image: error: %s\n' "$*" >&2
  exit 1
}

# The parameter reader every nodegen program shares. A program sources it from beside itself;
# nodegen inlines it there when it renders the program, so a node runs one file.

# read_params FILE: the parameters of a data file (KEY=VALUE lines) into P, each value verbatim:
# the file is never sourced or evaluated, and values are only ever used quoted.
declare -A P=()
read_params() {
  local file=$1 line key n=0
  [ -r "$file" ] || {
    printf '%s: parameter file %s is missing\n' "${0##*/}" "$file" >&2
    exit 2
  }
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    case "$line" in '' | '#'*) continue ;; esac
    key=${line%%=*}
    if [[ ! "$key" =~ ^[A-Z][A-Z0-9_]*$ ]] || [ "$key" = "$line" ]; then
      printf '%s: parameter file %s line %s is not KEY=VALUE\n' "${0##*/}" "$file" "$n" >&2
      exit 2
    fi
    P[$key]=${line#*=}
  done <"$file"
}
param() { printf '%s' "${P[$1]-}"; }
read_params "$PARAMS_FILE"
for var in HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  value=$(param "PROXY_$var")
  if [ -n "$value" ]; then
    export "$var=$value"
    export "${var,,}=$value"
  fi
done

# The status helpers, for json_string; console goes nowhere here (Packer shows the build's output).
CONSOLE=/dev/null
# The status helpers the bootstrap program and the certificate renewal share. A program sources it
# from beside itself; nodegen inlines it there when it renders the program. CONSOLE is the
# program's.

# A JSON string of $1, for status.json.
json_string() {
  local s=$1 out='' ch i
  for ((i = 0; i < ${#s}; i++)); do
    ch=${s:i:1}
    case "$ch" in
      '"') out+='\"' ;;
      \\) out+="\\\\" ;;
      $'\n') out+='\n' ;;
      $'\r') out+='\r' ;;
      $'\t') out+='\t' ;;
      *)
        if [[ "$ch" < ' ' ]]; then printf -v ch '\\u%04x' "'$ch"; fi
        out+=$ch
        ;;
    esac
  done
  printf '"%s"' "$out"
}

# One line for the operator on the console, whatever the unit's output settings are.
console() {
  printf '%s\n' "$*"
  if [ -w "$CONSOLE" ]; then printf '%s\n' "$*" >"$CONSOLE" 2>/dev/null || true; fi
}

runtime_socket() {
  case "$(param RUNTIME)" in
    cri-o) printf 'unix:///var/run/crio/crio.sock' ;;
    *) printf 'unix:///run/containerd/containerd.sock' ;;
  esac
}

runtime_unit() {
  case "$(param RUNTIME)" in
    cri-o) printf 'crio' ;;
    *) printf 'containerd' ;;
  esac
}

# The OS preparation files (modules, sysctls, repositories, the runtime's configuration), placed
# with the modes files.tsv lists: Packer's file upload does not keep modes.
step_files() {
  local mode path
  # Packer's file upload does not keep modes either, and install-packages.sh runs bundle.sh itself.
  chmod 0755 "$DIR"/scripts/*.sh
  while IFS=$'\t' read -r mode path || [ -n "$mode" ]; do
    [ -n "$mode" ] || continue
    [[ "$mode" =~ ^0[0-7]{3}$ ]] || die "files.tsv: bad mode $mode"
    [[ "$path" == /* && "$path" != *..* ]] || die "files.tsv: bad path $path"
    install -D -m "$mode" "$DIR/files$path" "$ROOT$path"
  done <"$DIR/files.tsv"
  # The runtime's proxy drop-in must be in force for the pre-pull.
  systemctl daemon-reload >/dev/null 2>&1 || true
  log "placed $(grep -c . "$DIR/files.tsv") preparation file(s)"
}

# The air-gap bundle as the build VM reaches it: Packer's HTTP server when the build serves a bundle
# directory (the qemu builder's qemu_bundle_directory), the profile's spec.airgap.bundle otherwise.
bake_bundle_url() {
  if [ -n "${NODEGEN_BUNDLE_SERVED:-}" ]; then
    [ -n "${PACKER_HTTP_ADDR:-}" ] || die "the build serves an air-gap bundle (qemu_bundle_directory) but Packer gave no HTTP address: qemu_bundle_directory is for the qemu builder"
    printf 'http://%s/' "$PACKER_HTTP_ADDR"
  else
    param BUNDLE_URL
  fi
}

# The parameters the install and the import run with: image.env, with the bundle (and the
# Kubernetes repository inside it) moved to where the build VM reaches it. The image keeps
# image.env's URLs, the ones its nodes use.
bake_params() {
  local old new line key value out="$DIR/bake.env"
  old=$(param BUNDLE_URL)
  new=$(bake_bundle_url)
  if [ -z "$old" ] || [ "$new" = "$old" ]; then
    printf '%s' "$PARAMS_FILE"
    return 0
  fi
  while IFS= read -r line || [ -n "$line" ]; do
    key=${line%%=*}
    value=${line#*=}
    case "$key" in
      BUNDLE_URL) line="BUNDLE_URL=$new" ;;
      KUBERNETES_REPO) [[ "$value" == "$old"* ]] && line="KUBERNETES_REPO=$new${value#"$old"}" ;;
    esac
    printf '%s\n' "$line"
  done <"$PARAMS_FILE" >"$out"
  printf '%s' "$out"
}

# The package manager's lists of the bundle (placed by the files step with the profile's URL) read
# from `to` instead of `from`, or back to the profile's when `to` is empty.
bundle_lists() {
  local from=$1 to=$2 mode path text copy
  while IFS=$'\t' read -r mode path || [ -n "$mode" ]; do
    case "$path" in /etc/apt/sources.list.d/* | /etc/yum.repos.d/*) ;; *) continue ;; esac
    if [ -z "$to" ]; then
      install -m "$mode" "$DIR/files$path" "$ROOT$path"
      # install-packages.sh keeps copies of the lists apt read: they say the same as the originals.
      copy="$ROOT/etc/nodegen/apt-sources.list.d/${path##*/}"
      if [ -e "$copy" ]; then cp -p "$ROOT$path" "$copy"; fi
      continue
    fi
    text=$(cat "$DIR/files$path")
    [[ "$text" == *"$from"* ]] || continue
    printf '%s\n' "${text//"$from"/"$to"}" >"$ROOT$path"
  done <"$DIR/files.tsv"
}

step_packages() {
  local params served=''
  params=$(bake_params)
  if [ "$params" != "$PARAMS_FILE" ]; then
    served=$(bake_bundle_url)
    bundle_lists "$(param BUNDLE_URL)" "$served"
    log "installing from the air-gap bundle at $served"
  fi
  bash "$DIR/scripts/install-packages.sh" "$params"
  if [ -n "$served" ]; then bundle_lists "$(param BUNDLE_URL)" ''; fi
  # The endpoint's packages are in the image for every role; the bootstrap program enables them on
  # control planes only.
  local unit
  for unit in haproxy keepalived kubelet; do
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
}

# An air-gapped profile's images come from its bundle, imported the way first boot imports them
# (bundle.sh import-images: every image of images.txt, each archive checked against SHA256SUMS).
# The marker records which bundle (the SHA-256 of its SHA256SUMS, what spec.airgap.sha256 pins),
# so first boot can tell the images are in the image without asking the bundle.
images_from_bundle() {
  local pulled=$1 work="$ROOT/var/lib/nodegen/bundle"
  bash "$DIR/scripts/bundle.sh" "$(bake_params)" import-images
  awk '$1 !~ /^#/ && NF >= 2 { print $1 }' "$work/images.txt" >>"$pulled"
  sha256sum <"$work/SHA256SUMS" | cut -c1-64 >"$DIR/bundle.sha256"
  sort -u -o "$pulled" "$pulled"
  log "imported $(grep -c . "$pulled") image(s) from the air-gap bundle"
}

step_images() {
  local socket image pulled="$DIR/pulled.txt" manifest
  socket=$(runtime_socket)
  systemctl enable "$(runtime_unit)" >/dev/null 2>&1 || true
  systemctl restart "$(runtime_unit)"
  : >"$pulled"
  if [ -n "$(param BUNDLE_URL)" ]; then
    images_from_bundle "$pulled"
    return 0
  fi
  kubeadm config images pull --kubernetes-version "v$(param KUBERNETES_VERSION)" \
    --image-repository "$(param IMAGE_REPOSITORY)" --cri-socket "$socket"
  kubeadm config images list --kubernetes-version "v$(param KUBERNETES_VERSION)" \
    --image-repository "$(param IMAGE_REPOSITORY)" >>"$pulled"
  # The CNI's images come from its manifest (shipped in the build directory, or fetched from its URL).
  manifest="$DIR/cni.yaml"
  if [ ! -r "$manifest" ] && [ -n "$(param CNI_MANIFEST_URL)" ]; then
    curl -fsSL --retry 5 -m 120 "$(param CNI_MANIFEST_URL)" -o "$manifest"
    # The image pulls what the pinned manifest names, or nothing.
    if [ -n "$(param CNI_MANIFEST_SHA256)" ]; then
      local have
      have=$(sha256sum "$manifest" | cut -d ' ' -f 1)
      [ "$have" = "$(param CNI_MANIFEST_SHA256)" ] || die "the CNI manifest from $(param CNI_MANIFEST_URL) has sha256 $have, not the pinned $(param CNI_MANIFEST_SHA256)"
    fi
  fi
  if [ -r "$manifest" ]; then
    sed -n -E "s/^[[:space:]]*(-[[:space:]]+)?image:[[:space:]]*[\"']?([^\"'[:space:]]+)[\"']?[[:space:]]*$/\\2/p" "$manifest" | sort -u >>"$pulled"
  fi
  if [ -r "$DIR/images.txt" ]; then grep -v '^#' "$DIR/images.txt" | grep . >>"$pulled" || true; fi
  sort -u -o "$pulled" "$pulled"
  while IFS= read -r image; do
    case "$image" in "$(param IMAGE_REPOSITORY)"/*) continue ;; esac
    crictl --runtime-endpoint "$socket" pull "$image"
  done <"$pulled"
  log "pre-pulled $(grep -c . "$pulled") image(s)"
}

step_marker() {
  local images='' image first=1
  if [ -r "$DIR/pulled.txt" ]; then
    while IFS= read -r image; do
      [ -n "$image" ] || continue
      [ "$first" = 1 ] || images+=', '
      images+=$(json_string "$image")
      first=0
    done <"$DIR/pulled.txt"
  fi
  mkdir -p "$ROOT/etc/nodegen"
  {
    printf '{"schema": 1, "os": %s, "kubernetesVersion": %s, "containerRuntime": %s, ' \
      "$(json_string "$(param OS_ID)")" "$(json_string "$(param KUBERNETES_VERSION)")" "$(json_string "$(param RUNTIME)")"
    if [ -n "$(param CONTAINERD_VERSION)" ]; then printf '"containerdVersion": %s, ' "$(json_string "$(param CONTAINERD_VERSION)")"; fi
    printf '"imageRepository": %s, ' "$(json_string "$(param IMAGE_REPOSITORY)")"
    if [ -r "$DIR/bundle.sha256" ]; then printf '"bundleSha256": %s, ' "$(json_string "$(cat "$DIR/bundle.sha256")")"; fi
    printf '"phases": ["packages"%s], "images": [%s], ' "$([ -r "$DIR/pulled.txt" ] && printf ', "images"')" "$images"
    printf '"built": %s, "builtBy": "nodegen image build"}\n' "$(json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
  } >"$MARKER.tmp"
  chmod 0644 "$MARKER.tmp"
  mv -f "$MARKER.tmp" "$MARKER"
  log "wrote $MARKER"
}

# What makes a clone a new machine: cloud-init runs again, a new machine-id and new SSH host keys
# at first boot, no key of the build's SSH user left behind.
step_cleanup() {
  local home
  systemctl stop kubelet >/dev/null 2>&1 || true
  # A test root gets the files removed; the build VM gets cloud-init's own clean.
  if [ -z "$ROOT" ] && command -v cloud-init >/dev/null 2>&1; then cloud-init clean --logs; fi
  rm -rf "$ROOT/var/lib/cloud/instances" "$ROOT/var/lib/cloud/instance"
  if [ -e "$ROOT/etc/machine-id" ]; then : >"$ROOT/etc/machine-id"; fi
  if [ -e "$ROOT/var/lib/dbus/machine-id" ] && [ ! -L "$ROOT/var/lib/dbus/machine-id" ]; then rm -f "$ROOT/var/lib/dbus/machine-id"; fi
  rm -f "$ROOT"/etc/ssh/ssh_host_*
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    if [ -n "$home" ]; then rm -f "$ROOT$home/.ssh/authorized_keys"; fi
  fi
  rm -f "$ROOT/root/.ssh/authorized_keys"
  if [ -z "$ROOT" ]; then
    if command -v dnf >/dev/null 2>&1; then dnf clean all >/dev/null 2>&1 || true; fi
    if command -v apt-get >/dev/null 2>&1; then apt-get clean >/dev/null 2>&1 || true; fi
  fi
  rm -rf "$ROOT/var/lib/nodegen" "$ROOT/var/log/nodegen"
  rm -rf "${DIR:?}"
  sync
  log "cleaned cloud-init state, machine-id, SSH host keys and the build's files"
}

log "step $STEP"
case "$STEP" in
  files) step_files ;;
  packages) step_packages ;;
  images) step_images ;;
  marker) step_marker ;;
  cleanup) step_cleanup ;;
  *) die "unknown step $STEP" ;;
esac
log "step $STEP: done"
