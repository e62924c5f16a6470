# shellcheck shell=bash
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
