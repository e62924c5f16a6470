#!/usr/bin/env bash
# Refreshes the kubeadm, kubelet and kube-proxy JSON Schemas the tests validate generated documents
# against (test/fixtures/kube-schemas/) from a directory holding a newer set, and rewrites the
# checksum table in test/fixtures/kube-schemas/PROVENANCE.md.
#
#   scripts/refresh-kube-schemas.sh SRC_DIR
#
# SRC_DIR holds <group>_<version>.schema.json files and an examples/ folder (valid *.yaml documents,
# negative-cases.yaml, validate.py), laid out like test/fixtures/kube-schemas/. Only the four
# apiVersions nodegen writes are taken; a missing one is an error, so a refresh never silently
# drops a schema. After a refresh, update the "Sources" section of PROVENANCE.md by hand (which
# Kubernetes release each schema follows) and run the schema tests:
#   node --import tsx --test test/unit/plan/kubeadm/schemas-support.test.ts
set -euo pipefail
if [ "$#" -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: scripts/refresh-kube-schemas.sh SRC_DIR" >&2
  exit 2
fi
src=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
dest=$repo/test/fixtures/kube-schemas
provenance=$dest/PROVENANCE.md
schemas=(
  kubeadm.k8s.io_v1beta3.schema.json
  kubeadm.k8s.io_v1beta4.schema.json
  kubelet.config.k8s.io_v1beta1.schema.json
  kubeproxy.config.k8s.io_v1alpha1.schema.json
)
for f in "${schemas[@]}" examples/negative-cases.yaml; do
  [ -f "$src/$f" ] || { echo "refresh-kube-schemas: $src/$f is missing" >&2; exit 1; }
done
for f in "${schemas[@]}"; do
  # A schema that is not JSON would only fail later, in every test that loads it.
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$src/$f" || { echo "refresh-kube-schemas: $src/$f is not JSON" >&2; exit 1; }
done

mkdir -p "$dest/examples"
for f in "${schemas[@]}"; do install -m 0644 "$src/$f" "$dest/$f"; done
rm -f "$dest"/examples/*.yaml
for f in "$src"/examples/*.yaml; do install -m 0644 "$f" "$dest/examples/"; done
[ ! -f "$src/examples/validate.py" ] || install -m 0644 "$src/examples/validate.py" "$dest/examples/validate.py"

# The checksum table sits between two marker lines of PROVENANCE.md; everything else is kept.
table=$(mktemp)
trap 'rm -f "$table"' EXIT
{
  echo '| file | sha256 |'
  echo '|---|---|'
  (cd "$dest" && find . -type f ! -name PROVENANCE.md | sed 's|^\./||' | LC_ALL=C sort | while IFS= read -r f; do
    echo "| \`$f\` | \`$(sha256sum "$f" | cut -d' ' -f1)\` |"
  done)
} >"$table"
if ! grep -q '^<!-- checksums:begin -->$' "$provenance" || ! grep -q '^<!-- checksums:end -->$' "$provenance"; then
  echo "refresh-kube-schemas: $provenance has no checksums:begin/end markers" >&2
  exit 1
fi
tmp=$provenance.tmp.$$
awk -v table="$table" '
  /^<!-- checksums:begin -->$/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
  /^<!-- checksums:end -->$/ { skip = 0 }
  !skip { print }
' "$provenance" >"$tmp"
mv "$tmp" "$provenance"
examples=("$dest"/examples/*.yaml)
echo "refresh-kube-schemas: copied ${#schemas[@]} schemas and ${#examples[@]} example files from $src; checksums rewritten in $provenance" >&2
