#!/usr/bin/env bash
# nodegen air-gap bundle client: takes files from the bundle the profile names (spec.airgap.bundle)
# and imports its container images, every file checked against the bundle's SHA256SUMS, and
# SHA256SUMS itself against the profile's pin (spec.airgap.sha256) when there is one. The layout
# is docs/airgap.md's:
#
#   SHA256SUMS            "<sha256>  <path>" for Release.key, the image archives, images.txt and
#                         each repository's Release.key
#   Release.key           the key that signs the bundle's own repositories (os/<os>/)
#   kubernetes/           pkgs.k8s.io's layout (core:/stable:/vX.Y/{deb,rpm}/)
#   os/<os>/              a flat repository of the OS packages the nodes install
#   images/images.txt     "<image reference> <archive file>" per line
#   images/<file>.tar     OCI image archives
#
#   bundle.sh PARAMS fetch PATH DEST     one file of the bundle, checked, to DEST
#   bundle.sh PARAMS import-images       every image of images.txt this node's role runs, into
#                                        containerd's k8s.io namespace (the one the kubelet uses)
#
# Parameters come from the data file PARAMS (KEY=VALUE lines, read verbatim, never sourced).
set -Eeuo pipefail
umask 022

PARAMS_FILE=${1:?usage: bundle.sh PARAMS fetch PATH DEST | import-images}
shift
# shellcheck source-path=SCRIPTDIR source=params.sh
. "$(dirname "${BASH_SOURCE[0]}")/params.sh" # nodegen: inline
read_params "$PARAMS_FILE"

BUNDLE=$(param BUNDLE_URL)
WORK_DIR="${NODEGEN_ROOT:-}/var/lib/nodegen/bundle"
SUMS="$WORK_DIR/SHA256SUMS"
fail() {
  echo "bundle: $*" >&2
  exit 1
}
[ -n "$BUNDLE" ] || fail "no BUNDLE_URL in $PARAMS_FILE"
[[ "$BUNDLE" == */ ]] || fail "BUNDLE_URL must end in /"
mkdir -p "$WORK_DIR"
chmod 0700 "$WORK_DIR"

download() {
  curl -fsS --retry 5 --retry-connrefused --connect-timeout 10 -o "$2" "$1" || fail "cannot download $1"
}

# SHA256SUMS, once per boot sequence: checked against the profile's pin before anything is used.
load_sums() {
  local pin have
  [ -s "$SUMS" ] && return 0
  download "${BUNDLE}SHA256SUMS" "$SUMS.part"
  pin=$(param BUNDLE_SHA256)
  if [ -n "$pin" ]; then
    have=$(sha256sum <"$SUMS.part" | cut -c1-64)
    [ "$have" = "$pin" ] || fail "the bundle's SHA256SUMS has SHA-256 $have, but spec.airgap.sha256 is $pin: this is not the bundle the profile names"
  fi
  mv -f "$SUMS.part" "$SUMS"
}

# fetch PATH DEST: the bundle's PATH, checked against SHA256SUMS, replaces DEST.
fetch() {
  local rel=$1 dest=$2 want have
  load_sums
  want=$(awk -v f="$rel" '$2 == f || $2 == "*" f { print $1; exit }' "$SUMS")
  [[ "$want" =~ ^[0-9a-f]{64}$ ]] || fail "the bundle's SHA256SUMS does not list $rel"
  download "$BUNDLE$rel" "$dest.part"
  have=$(sha256sum <"$dest.part" | cut -c1-64)
  if [ "$have" != "$want" ]; then
    rm -f "$dest.part"
    fail "$rel from the bundle has SHA-256 $have, SHA256SUMS says $want"
  fi
  mv -f "$dest.part" "$dest"
}

# Image names (no tag) a node of another role never runs (the control plane's on a worker), one a line.
skipped() {
  local ref
  for ref in $(param BUNDLE_IMAGES_SKIP); do printf '%s\n' "$ref"; done
}

# grep reads the whole list (no -q): ctr writes a line at a time (the CRI plugin adds a sha256: line
# per image), and under pipefail a grep that quits at the first match makes ctr's next write fail
# with SIGPIPE, and the pipeline with it.
have_image() { ctr -n k8s.io images ls -q 2>/dev/null | grep -xF -- "$1" >/dev/null; }

import_images() {
  local list="$WORK_DIR/images.txt" ref file n=0 skip
  command -v ctr >/dev/null 2>&1 || fail "ctr (containerd's client) is not installed: the bundle's images need containerd"
  fetch images/images.txt "$list"
  skip=$(skipped)
  while read -r ref file _; do
    case "$ref" in '' | '#'*) continue ;; esac
    [[ "$file" =~ ^[A-Za-z0-9._-]+\.tar$ ]] || fail "images.txt names an archive that is not a plain file name: $file"
    if [ -n "$skip" ] && grep -qxF -- "${ref%:*}" <<<"$skip"; then continue; fi
    if have_image "$ref"; then continue; fi
    fetch "images/$file" "$WORK_DIR/$file"
    ctr -n k8s.io images import --platform linux/amd64 "$WORK_DIR/$file" >/dev/null || fail "ctr could not import $file ($ref)"
    rm -f "$WORK_DIR/$file"
    have_image "$ref" || fail "$file did not hold $ref"
    n=$((n + 1))
    echo "bundle: imported $ref"
  done <"$list"
  echo "bundle: $n image(s) imported"
}

case "${1-}" in
  fetch)
    [ $# -eq 3 ] || fail "usage: bundle.sh PARAMS fetch PATH DEST"
    fetch "$2" "$3"
    ;;
  import-images)
    import_images
    ;;
  *) fail "unknown command ${1-} (fetch or import-images)" ;;
esac
