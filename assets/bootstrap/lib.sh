# shellcheck shell=bash
# What the bootstrap program and the certificate renewal share: the parameter reader and the
# status helpers. A program sources it from beside itself; nodegen inlines it there when it renders
# the program, so a node runs one file. The program defines log() and CONSOLE first.

# read_params FILE: the parameters of a data file (KEY=VALUE lines) into P, each value verbatim:
# the file is never sourced or evaluated, and values are only ever used quoted.
declare -A P=()
read_params() {
  local file=$1 line key value n=0
  [ -r "$file" ] || { log "parameter file $file is missing"; exit 2; }
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    case "$line" in '' | '#'*) continue ;; esac
    key=${line%%=*}
    value=${line#*=}
    if [[ ! "$key" =~ ^[A-Z][A-Z0-9_]*$ ]] || [ "$key" = "$line" ]; then
      log "parameter file $file line $n is not KEY=VALUE"
      exit 2
    fi
    P[$key]=$value
  done <"$file"
}
param() { printf '%s' "${P[$1]-}"; }

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
