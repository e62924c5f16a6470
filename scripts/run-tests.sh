#!/usr/bin/env bash
# Runs node's test runner over the test files under the given folders (Node 20's --test does not
# expand globs itself). Usage: scripts/run-tests.sh [--concurrency N] DIR...
set -euo pipefail
concurrency=2
if [ "${1-}" = --concurrency ]; then concurrency=$2; shift 2; fi
files=()
for dir in "$@"; do
  [ -d "$dir" ] || continue
  while IFS= read -r f; do files+=("$f"); done < <(find "$dir" -name '*.test.ts' -type f | sort)
done
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files under: $*" >&2
  exit 1
fi
exec node --import tsx --test --test-concurrency="$concurrency" "${files[@]}"
