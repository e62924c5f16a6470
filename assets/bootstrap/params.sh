# shellcheck shell=bash
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
