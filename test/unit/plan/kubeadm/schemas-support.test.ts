import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {test} from 'node:test'
import {SCHEMAS_DIR, schemaApiVersions, validateKubeDocuments} from '../../../support/schemas.js'

// The checker the planner tests rely on must itself be shown to accept and to refuse.

test('a schema for each apiVersion nodegen writes', () => {
  assert.deepEqual(schemaApiVersions(), [
    'kubeadm.k8s.io/v1beta3',
    'kubeadm.k8s.io/v1beta4',
    'kubelet.config.k8s.io/v1beta1',
    'kubeproxy.config.k8s.io/v1alpha1',
  ])
})

test('the valid examples of test/fixtures/kube-schemas validate', () => {
  const dir = path.join(SCHEMAS_DIR, 'examples')
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'negative-cases.yaml')
  assert.ok(files.length >= 6)
  for (const f of files) {
    const results = validateKubeDocuments(readFileSync(path.join(dir, f), 'utf8'))
    assert.ok(results.length > 0, f)
    for (const r of results) assert.deepEqual(r.errors, [], `${f} ${r.kind}`)
  }
})

test('every negative case fails', () => {
  const results = validateKubeDocuments(readFileSync(path.join(SCHEMAS_DIR, 'examples', 'negative-cases.yaml'), 'utf8'))
  assert.equal(results.length, 20)
  for (const r of results) assert.ok(r.errors.length > 0, `${r.kind} should be invalid`)
})

test('a misspelled field, a YAML 1.1 boolean where a string belongs, an unknown apiVersion', () => {
  const [typo] = validateKubeDocuments('apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistraton: {}\n')
  assert.ok(typo && typo.errors.length > 0)
  const [yes] = validateKubeDocuments(
    'apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    v: yes\n',
  )
  assert.ok(yes && yes.errors.length > 0, 'yes is a boolean to kubeadm')
  const [unknown] = validateKubeDocuments('apiVersion: example.com/v1\nkind: Thing\n')
  assert.deepEqual(unknown?.errors, ['no schema for apiVersion example.com/v1'])
})

test('PROVENANCE.md lists every schema file with its sha256 (scripts/refresh-kube-schemas.sh rewrites the table)', () => {
  const provenance = readFileSync(path.join(SCHEMAS_DIR, 'PROVENANCE.md'), 'utf8')
  const listed = new Map([...provenance.matchAll(/^\| `([^`]+)` \| `([0-9a-f]{64})` \|$/gm)].map((m) => [m[1], m[2]]))
  const files = readdirSync(SCHEMAS_DIR, {recursive: true, withFileTypes: true})
    .filter((e) => e.isFile() && e.name !== 'PROVENANCE.md')
    .map((e) => path.relative(SCHEMAS_DIR, path.join(e.parentPath, e.name)))
    .sort()
  assert.deepEqual([...listed.keys()].sort(), files)
  for (const f of files) {
    const sha = createHash('sha256')
      .update(readFileSync(path.join(SCHEMAS_DIR, f)))
      .digest('hex')
    assert.equal(sha, listed.get(f), `${f}: the checksum in PROVENANCE.md`)
  }
})
