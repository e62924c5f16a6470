# shellcheck shell=bash
# nodegen: a downloaded CNI manifest's images mapped to the profile's mirror. Sourced by
# control-plane.sh on control plane 0 (its param and log), and shipped only where the profile names
# a mirror for a manifest fetched at boot.

# The registry host of an image repository, as containerd reads it (docker.io when none is named).
image_host() {
  local first=${1%%/*}
  if [[ "$1" == */* ]] && { [[ "$first" == *[.:]* ]] || [ "$first" = localhost ]; }; then
    printf '%s' "$first"
  else
    printf 'docker.io'
  fi
}

# mirror_cni_images FILE: every `image:` value of a downloaded CNI manifest mapped to the profile's
# mirror, by the rule of src/profile/image-mirror.ts: the repository named in the imageMirrors data
# file (CNI_IMAGE_MIRRORS_FILE, "<repository><TAB><mirror repository>" lines), else, for an image on
# another registry than the mirror's (CNI_IMAGE_MIRROR), <mirror>/<last path component>; the tag
# or digest kept. Values are matched and assigned as data, never evaluated.
mirror_cni_images() {
  local mirror map_file line head quote ref close tail name suffix full last to
  mirror=$(param CNI_IMAGE_MIRROR)
  map_file=$(param CNI_IMAGE_MIRRORS_FILE)
  [ -n "$mirror" ] || [ -n "$map_file" ] || return 0
  local -A map=()
  local -a changed=()
  if [ -n "$map_file" ]; then
    local from dest
    while IFS=$'\t' read -r from dest || [ -n "$from" ]; do
      [ -n "$from" ] && [ -n "$dest" ] && map[$from]=$dest
    done <"$ROOT$map_file"
  fi
  local re='^([[:space:]]*(-[[:space:]]+)?image:[[:space:]]*)(["'"'"']?)([^[:space:]"'"'"'#]+)(["'"'"']?)([[:space:]]*(#.*)?)$'
  while IFS= read -r line || [ -n "$line" ]; do
    if [[ "$line" =~ $re ]] && [ "${BASH_REMATCH[3]}" = "${BASH_REMATCH[5]}" ]; then
      head=${BASH_REMATCH[1]} quote=${BASH_REMATCH[3]} ref=${BASH_REMATCH[4]} close=${BASH_REMATCH[5]} tail=${BASH_REMATCH[6]}
      name=${ref%%@*} suffix=
      [ "$name" != "$ref" ] && suffix="@${ref#*@}"
      last=${name##*/}
      if [[ "$last" == *:* ]]; then
        suffix=":${last#*:}$suffix"
        name=${name%:*}
      fi
      full=$name
      if [ "$(image_host "$name")" = docker.io ] && [[ "$name" != docker.io/* ]]; then
        if [[ "$name" == */* ]]; then full="docker.io/$name"; else full="docker.io/library/$name"; fi
      fi
      to=
      if [ -n "${map[$full]+x}" ]; then
        to="${map[$full]}$suffix"
      elif [ -n "$mirror" ] && [ "$(image_host "$full")" != "$(image_host "$mirror")" ]; then
        to="$mirror/${name##*/}$suffix"
      fi
      if [ -n "$to" ]; then
        changed+=("$ref as $to")
        line="$head$quote$to$close$tail"
      fi
    fi
    printf '%s\n' "$line"
  done <"$1" >"$1.mirrored"
  mv -f "$1.mirrored" "$1"
  for line in "${changed[@]}"; do log "CNI image $line (the profile's mirror)"; done
}
