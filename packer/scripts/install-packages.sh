#!/usr/bin/env bash
# nodegen package installation: the container runtime, kubelet/kubeadm/kubectl pinned to the
# cluster's version and held, and the endpoint's packages on control planes. The bootstrap program
# runs it on first boot; `nodegen image build` runs the very same file in Packer, which then writes
# the baked-image marker so first boot skips it. Parameters come from the data file given as $1
# (KEY=VALUE lines, read verbatim, never sourced); the repository files it installs from were
# written by the seed beside it.
set -Eeuo pipefail

PARAMS_FILE=${1:-/etc/nodegen/bootstrap.env}
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
ROLE=$(param NODE_ROLE)
# An air-gap bundle (spec.airgap.bundle): its repositories are the only ones apt and dnf read, and
# every key comes through bundle.sh, checked against the bundle's SHA256SUMS.
BUNDLE=$(param BUNDLE_URL)
BUNDLE_SCRIPT=${NODEGEN_BUNDLE_SCRIPT:-$(dirname "$0")/bundle.sh}

# apt-get install's options. The seed wrote containerd's config.toml and haproxy.cfg before this
# runs, and both are conffiles of Debian's packages: dpkg would ask which to keep, read EOF (no
# terminal under systemd or Packer) and fail. --force-confdef takes dpkg's default where it has one,
# --force-confold keeps the file on disk (ours) where it would ask. stdin is /dev/null either way.
APT_INSTALL_OPTS=(-y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

for var in HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  value=$(param "PROXY_$var")
  if [ -n "$value" ]; then
    export "$var=$value"
    export "${var,,}=$value"
  fi
done

lb_packages() {
  case "$(param LB_TYPE)" in
    keepalived-haproxy) [ "$ROLE" = control-plane ] && echo keepalived haproxy ;;
    keepalived) [ "$ROLE" = control-plane ] && echo keepalived ;;
  esac
  return 0
}

# The runtime's package as the package manager is asked for it: Docker's containerd.io at exactly
# CONTAINERD_VERSION (apt: `containerd.io=2.0.11-*`, any packaging revision; dnf: `containerd.io-2.0.11`),
# or the distribution's containerd or CRI-O, unpinned (CRI-O's repository is one Kubernetes minor).
# A pin must never fall back to the newest package: without CONTAINERD_VERSION containerd.io is refused.
runtime_package() {
  local family=$1 version
  case "$(param RUNTIME)" in
    cri-o) printf 'cri-o' ;;
    containerd)
      if [ "$(param RUNTIME_SOURCE)" = distribution ]; then
        printf 'containerd'
        return 0
      fi
      version=$(param CONTAINERD_VERSION)
      if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
        echo "install-packages: CONTAINERD_VERSION is not a containerd release: '$version'" >&2
        return 2
      fi
      case "$family" in
        debian) printf 'containerd.io=%s-*' "$version" ;;
        rhel) printf 'containerd.io-%s' "$version" ;;
      esac
      ;;
    *)
      echo "install-packages: unknown runtime '$(param RUNTIME)'" >&2
      return 2
      ;;
  esac
}

install_rhel() {
  local v runtime_pkg extra unexclude=()
  v=$(param KUBERNETES_VERSION)
  runtime_pkg=$(runtime_package rhel)
  read -r -a extra <<<"$(lb_packages)"
  # docker-ce.repo excludes containerd.io, so a later `dnf upgrade` keeps the pinned release (as
  # kubernetes.repo does for the Kubernetes packages); this install alone lifts the exclude.
  if [ "${runtime_pkg%%-[0-9]*}" = containerd.io ] && [ -z "$BUNDLE" ]; then unexclude=(--disableexcludes=docker-ce-stable); fi
  local repos=() krepo
  if [ -n "$BUNDLE" ]; then
    # The keys the bundle's packages are signed with (the vendor's and Docker's; the Kubernetes
    # repository's), checked against SHA256SUMS: nodegen-bundle.repo and kubernetes.repo name them.
    "$BUNDLE_SCRIPT" "$PARAMS_FILE" fetch "os/$(param OS_ID)/Release.key" /etc/pki/rpm-gpg/nodegen-bundle.asc
    krepo=$(param KUBERNETES_REPO)
    if [[ "$krepo" == "$BUNDLE"* ]]; then
      "$BUNDLE_SCRIPT" "$PARAMS_FILE" fetch "${krepo#"$BUNDLE"}repodata/repomd.xml.key" /etc/pki/rpm-gpg/nodegen-kubernetes.asc
    fi
    repos=(--disablerepo='*' --enablerepo=kubernetes --enablerepo=nodegen-bundle)
  fi
  dnf -y "${repos[@]}" install "${unexclude[@]}" "$runtime_pkg" chrony curl openssl iproute-tc conntrack-tools socat "${extra[@]}"
  if [ "$(param FIREWALL)" = open-ports ]; then dnf -y "${repos[@]}" install firewalld; fi
  dnf -y "${repos[@]}" install --disableexcludes=kubernetes "kubelet-$v" "kubeadm-$v" "kubectl-$v"
}

# apt-get update over the sources whose signed-by key (if any) is already on the disk.
apt_update_keyed_sources_only() {
  local parts f key
  parts=$(mktemp -d)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    key=$(sed -n 's/.*[[ ]signed-by=\([^] ]*\).*/\1/p; s/^Signed-By:[[:space:]]*\(\/[^[:space:]]*\)$/\1/p' "$f" | head -n 1)
    if [ -n "$key" ] && [ ! -e "$key" ]; then continue; fi
    cp -p "$f" "$parts/"
  done
  apt-get update -qq -o Dir::Etc::sourceparts="$parts"
  rm -rf "$parts"
}

# The bundle's keys, checked; apt then reads only the lists nodegen wrote (kubernetes.list and
# nodegen-bundle.list), never the image's own sources, which an air-gapped node cannot reach.
APT_SOURCES=()
# apt's options to read the lists in DIR and nothing else: not sources.list, not the image's own
# sources.list.d (deb822 .sources included). One line: a test reads it from this file.
apt_only_lists() { APT_SOURCES=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$1"); }
apt_from_bundle() {
  local krepo only
  command -v curl >/dev/null 2>&1 || { echo "install-packages: an air-gapped Debian node needs curl on its image to reach the bundle" >&2; exit 1; }
  "$BUNDLE_SCRIPT" "$PARAMS_FILE" fetch Release.key /etc/apt/keyrings/nodegen-bundle.asc
  krepo=$(param KUBERNETES_REPO)
  if [[ "$krepo" == "$BUNDLE"* ]]; then
    "$BUNDLE_SCRIPT" "$PARAMS_FILE" fetch "${krepo#"$BUNDLE"}Release.key" /etc/apt/keyrings/kubernetes-apt-keyring.asc
  else
    curl -fsSL --retry 5 "${krepo}Release.key" -o /etc/apt/keyrings/kubernetes-apt-keyring.asc
  fi
  chmod 0644 /etc/apt/keyrings/nodegen-bundle.asc /etc/apt/keyrings/kubernetes-apt-keyring.asc
  only=/etc/nodegen/apt-sources.list.d
  rm -rf "$only"
  install -d -m 0755 "$only"
  cp -p /etc/apt/sources.list.d/kubernetes.list /etc/apt/sources.list.d/nodegen-bundle.list "$only/"
  apt_only_lists "$only"
}

install_debian() {
  local v runtime_pkg extra key_url
  v=$(param KUBERNETES_VERSION)
  export DEBIAN_FRONTEND=noninteractive
  install -d -m 0755 /etc/apt/keyrings
  if [ -n "$BUNDLE" ]; then
    apt_from_bundle
    install_debian_packages "$v"
    return
  fi
  # curl fetches the repositories' keys. Where it is missing, apt must first refresh the
  # distribution's own sources without the lists the seed already wrote: apt refuses a source
  # whose signed-by key is not there yet, and those keys are what curl is for.
  if ! command -v curl >/dev/null 2>&1 || [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then
    apt_update_keyed_sources_only
    apt-get install "${APT_INSTALL_OPTS[@]}" curl ca-certificates </dev/null
  fi
  key_url="$(param KUBERNETES_REPO)Release.key"
  curl -fsSL --retry 5 "$key_url" -o /etc/apt/keyrings/kubernetes-apt-keyring.asc
  chmod 0644 /etc/apt/keyrings/kubernetes-apt-keyring.asc
  if [ -n "$(param CRIO_REPO)" ]; then
    curl -fsSL --retry 5 "$(param CRIO_REPO)Release.key" -o /etc/apt/keyrings/cri-o-apt-keyring.asc
    chmod 0644 /etc/apt/keyrings/cri-o-apt-keyring.asc
  fi
  if [ "$(param RUNTIME)" = containerd ] && [ "$(param RUNTIME_SOURCE)" = docker ]; then
    curl -fsSL --retry 5 "$(param DOCKER_REPO)/linux/$(param DOCKER_DISTRO)/gpg" -o /etc/apt/keyrings/docker.asc
    chmod 0644 /etc/apt/keyrings/docker.asc
  fi
  install_debian_packages "$v"
}

POLICY_RC=${NODEGEN_POLICY_RC:-/usr/sbin/policy-rc.d}
no_service_starts() {
  if [ -e "$POLICY_RC" ] && ! grep -qx '# nodegen: no service starts during the package install' "$POLICY_RC"; then
    POLICY_RC_KEPT="$POLICY_RC.nodegen-kept"
    mv -f "$POLICY_RC" "$POLICY_RC_KEPT"
  fi
  printf '#!/bin/sh\n# nodegen: no service starts during the package install\nexit 101\n' >"$POLICY_RC.tmp"
  chmod 0755 "$POLICY_RC.tmp"
  mv -f "$POLICY_RC.tmp" "$POLICY_RC"
  trap allow_service_starts EXIT
}
allow_service_starts() {
  rm -f "$POLICY_RC"
  if [ -n "${POLICY_RC_KEPT-}" ] && [ -e "$POLICY_RC_KEPT" ]; then mv -f "$POLICY_RC_KEPT" "$POLICY_RC"; fi
  POLICY_RC_KEPT=
  trap - EXIT
}

install_debian_packages() {
  local v=$1 runtime_pkg extra
  runtime_pkg=$(runtime_package debian)
  read -r -a extra <<<"$(lb_packages)"
  apt-get "${APT_SOURCES[@]}" update -qq
  # Debian's maintainer scripts start what they install at once: keepalived would claim the VIP
  # before the firewall phase lets the other control planes' VRRP adverts in (two masters, the
  # endpoint flapping while control plane 0 initialises), haproxy would bind before its time. A
  # policy-rc.d that refuses every start (invoke-rc.d's exit 101) keeps them down; the bootstrap
  # program starts each service when its phase wants it.
  no_service_starts
  apt-get "${APT_SOURCES[@]}" install "${APT_INSTALL_OPTS[@]}" "$runtime_pkg" chrony openssl conntrack socat "${extra[@]}" \
    "kubelet=$v-*" "kubeadm=$v-*" "kubectl=$v-*" </dev/null
  allow_service_starts
  apt-mark hold kubelet kubeadm kubectl >/dev/null
  # An unattended upgrade must not move containerd off its pin either.
  if [ "${runtime_pkg%%=*}" = containerd.io ]; then apt-mark hold containerd.io >/dev/null; fi
}

case "$(param OS_FAMILY)" in
  rhel) install_rhel ;;
  debian) install_debian ;;
  *) echo "install-packages: unsupported OS family $(param OS_FAMILY)" >&2; exit 2 ;;
esac
echo "install-packages: runtime $(param RUNTIME)${P[CONTAINERD_VERSION]:+ $(param CONTAINERD_VERSION)} and Kubernetes $(param KUBERNETES_VERSION) installed"
