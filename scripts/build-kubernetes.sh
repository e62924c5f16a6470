#!/usr/bin/env bash
# Builds the real Kubernetes commands of one release from the Go module proxy, cached by version.
#
#   scripts/build-kubernetes.sh [--version 1.34.2] [COMMAND...]     (default: kubeadm)
#   scripts/build-kubernetes.sh --versions-file FILE [COMMAND...]  (each version in FILE: one a line, # comments)
#
# k8s.io/kubernetes is a Go module whose go.mod replaces its staging modules (k8s.io/api,
# k8s.io/apimachinery, ...) with ./staging paths that do not exist in the module zip, so it cannot
# be built with `go install k8s.io/kubernetes/cmd/kubeadm@vX`. A small wrapper module requires
# k8s.io/kubernetes vX.Y.Z and replaces every staging module with its published v0.Y.Z release; the
# commands are built from it with the version stamped the way the release build stamps it
# (kubeadm reads its own version to pick defaults and refuses configs for newer releases).
#
# Output: the cache directory (one line on stdout), holding bin/<command>. Progress goes to stderr.
# Cache: ${NODEGEN_K8S_CACHE:-~/.cache/nodegen-k8s}/v<version>/bin; a command already there is not
# rebuilt. Go's own module and build caches make a rebuild of another command fast.
set -Eeuo pipefail
version=${NODEGEN_K8S_VERSION:-1.34.2}
if [ "${1-}" = --versions-file ]; then
  file=$2
  shift 2
  start=$(date +%s)
  while read -r v _; do
    case "$v" in '' | '#'*) continue ;; esac
    "$0" --version "$v" "$@" >/dev/null
  done <"$file"
  echo "build-kubernetes: every version of $file ready in $(($(date +%s) - start)) s" >&2
  exit 0
fi
if [ "${1-}" = --version ]; then version=$2; shift 2; fi
commands=("$@")
[ "${#commands[@]}" -gt 0 ] || commands=(kubeadm)
case "$version" in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "build-kubernetes: version must be X.Y.Z, got: $version" >&2; exit 2 ;;
esac
for c in "${commands[@]}"; do
  case "$c" in
    kubeadm | kubelet | kubectl | kube-apiserver | kube-controller-manager | kube-scheduler | kube-proxy) ;;
    *) echo "build-kubernetes: unknown command: $c" >&2; exit 2 ;;
  esac
done
log() { echo "build-kubernetes: $*" >&2; }
GO=${GO:-go}
command -v "$GO" >/dev/null 2>&1 || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; } || true
command -v "$GO" >/dev/null 2>&1 || { log "Go is not installed (need Go 1.24 or newer on PATH or /usr/local/go)"; exit 1; }

cache=${NODEGEN_K8S_CACHE:-$HOME/.cache/nodegen-k8s}/v$version
mkdir -p "$cache/bin"
todo=()
for c in "${commands[@]}"; do [ -x "$cache/bin/$c" ] || todo+=("$c"); done
if [ "${#todo[@]}" -eq 0 ]; then
  echo "$cache"
  exit 0
fi
# One build per version at a time (the image and package scripts call this one too); a run that
# waited finds what the other built.
exec {lock}>"$cache/.lock"
flock "$lock"
todo=()
for c in "${commands[@]}"; do [ -x "$cache/bin/$c" ] || todo+=("$c"); done
if [ "${#todo[@]}" -eq 0 ]; then
  echo "$cache"
  exit 0
fi

minor=${version#*.}
minor=${minor%%.*}
major=${version%%.*}
staging="0.${version#*.}"
mod="$cache/module"
mkdir -p "$mod"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
log "v$version: resolving k8s.io/kubernetes and its staging modules"
gomod=$(cd "$mod" && "$GO" mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
[ -s "$gomod" ] || { log "the Go module proxy has no k8s.io/kubernetes v$version"; exit 1; }
{
  echo "module nodegen.dev/k8s-build"
  echo
  sed -n 's/^go \([0-9.]*\)$/go \1/p' "$gomod" | head -n 1
  echo
  echo "require k8s.io/kubernetes v$version"
  echo
  echo "replace ("
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => \./staging/src/.*$#\1#p' "$gomod" | while read -r m; do
    echo "	$m => $m v$staging"
  done
  echo ")"
} >"$mod/go.mod"
cat >"$mod/tools.go" <<'EOF'
//go:build tools

package tools
EOF
pkgs=()
for c in "${todo[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c@v$version"); done
# go mod tidy would drop the requirement (nothing imports it); `go get` of the packages at this
# version records every module they need, at the versions k8s.io/kubernetes's own go.mod selects.
if ! (cd "$mod" && "$GO" get "${pkgs[@]}" >"$mod/get.log" 2>&1); then
  tail -n 20 "$mod/get.log" >&2
  log "go get of ${pkgs[*]} failed"
  exit 1
fi
grep -q "k8s.io/kubernetes v$version\$" "$mod/go.mod" || { log "the wrapper module did not settle on k8s.io/kubernetes v$version"; exit 1; }
ldflags=(
  -s -w
  -X "k8s.io/component-base/version.gitVersion=v$version"
  -X "k8s.io/component-base/version.gitMajor=$major"
  -X "k8s.io/component-base/version.gitMinor=$minor"
  -X "k8s.io/component-base/version.gitTreeState=clean"
  -X "k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
  -X "k8s.io/client-go/pkg/version.gitVersion=v$version"
  -X "k8s.io/client-go/pkg/version.gitMajor=$major"
  -X "k8s.io/client-go/pkg/version.gitMinor=$minor"
  -X "k8s.io/client-go/pkg/version.gitTreeState=clean"
)
start=$(date +%s)
for c in "${todo[@]}"; do
  log "v$version: building $c (a cold build takes minutes on two cores)"
  t0=$(date +%s)
  (cd "$mod" && "$GO" build -trimpath -ldflags "${ldflags[*]}" -o "$cache/bin/.$c.tmp" "k8s.io/kubernetes/cmd/$c" >&2)
  mv -f "$cache/bin/.$c.tmp" "$cache/bin/$c"
  log "v$version: $c built in $(($(date +%s) - t0)) s"
done
log "v$version: ${#todo[@]} command(s) built in $(($(date +%s) - start)) s"
echo "$cache"
