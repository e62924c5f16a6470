/**
 * Hostile strings in every free-text field of a profile either fail validation with a positioned
 * error at that field, or come out so that no script, unit, YAML or JSON document changes meaning:
 * the user-data parses back with the value intact, the bootstrap parameter file reads back (with
 * the bootstrap program's own loop) to exactly the keys and values planned, and kubeadm's documents
 * carry the value verbatim. A fixed seed runs always; a random one is printed for reproduction.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {randomInt} from 'node:crypto'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {parse, parseAllDocuments, stringify} from 'yaml'
import {loadAssets} from '../../../src/app/assets.js'
import {emitCloudInit} from '../../../src/emit/cloud-init/index.js'
import {buildNodePlan, type ClusterMaterial} from '../../../src/plan/build.js'
import {formatPath, loadProfile} from '../../../src/profile/index.js'
import {profileText} from '../../support/profiles.js'

const FIXED_SEED = 1122
const RANDOM_SEED = Number(process.env.NODEGEN_FUZZ_SEED ?? randomInt(1, 2 ** 31 - 1))
const RUNS = Number(process.env.NODEGEN_FUZZ_RUNS ?? 60)

const MATERIAL: ClusterMaterial = {
  caCert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  caCertHash: `sha256:${'a'.repeat(64)}`,
  token: 'abcdef.0123456789abcdef',
  tokenTtlSeconds: 86400,
  pkiFiles: () => [],
}

const NASTY = [
  '$(touch /tmp/nodegen-pwned)',
  '`touch /tmp/nodegen-pwned`',
  "'; touch /tmp/nodegen-pwned; '",
  '"; touch /tmp/nodegen-pwned; "',
  'a\nFIREWALL=disabled',
  'x\r\nKEEP_SECRETS=1',
  '\u2028y',
  '%n%s%%',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion, on purpose
  '${IFS}',
  '\\',
  '- evil: 1',
  '{{ .Values }}',
  'yes',
  'on',
  '0600',
  '~',
  '*alias',
  '&anchor x',
  '!!python/object/apply:os.system ["id"]',
  '#comment',
  ' leading',
  'trailing ',
  '',
]
const hostile = fc.oneof(fc.constantFrom(...NASTY), fc.string({maxLength: 40}), fc.string({unit: 'binary', maxLength: 20}))

// biome-ignore lint/suspicious/noExplicitAny: a parsed YAML document edited by field path
type Setter = (doc: any, v: string) => void
const FIELDS: Array<[string, Setter]> = [
  ['node label value', (d, v) => (d.spec.nodes[3].labels = {'example.com/team': v})],
  ['node label key', (d, v) => (d.spec.nodes[3].labels = {[v]: 'x'})],
  ['taint value', (d, v) => (d.spec.nodes[3].taints = [{key: 'k', value: v, effect: 'NoSchedule'}])],
  ['kubelet extra arg value', (d, v) => (d.spec.nodes[3].kubeletExtraArgs = {'max-pods': v})],
  ['kubelet extra arg name', (d, v) => (d.spec.kubelet = {extraArgs: {[v]: '1'}})],
  ['file content', (d, v) => (d.spec.files = [{path: '/etc/example.conf', content: v}])],
  ['file path', (d, v) => (d.spec.files = [{path: v, content: 'x'}])],
  ['file owner', (d, v) => (d.spec.files = [{path: '/etc/x', content: 'x', owner: v}])],
  ['proxy URL', (d, v) => (d.spec.proxy = {http: `http://proxy.example.com:3128/${v}`})],
  ['no_proxy entry', (d, v) => (d.spec.proxy = {http: 'http://p:3128', noProxy: [v]})],
  ['SSH key comment', (d, v) => (d.spec.users[0].sshAuthorizedKeys = [`ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0 ${v}`])],
  ['user name', (d, v) => (d.spec.users[0].name = v)],
  ['node name', (d, v) => (d.spec.nodes[3].name = v)],
  ['image repository', (d, v) => (d.spec.kubernetes.imageRepository = v)],
  ['package repository', (d, v) => (d.spec.kubernetes.packageRepository = `https://mirror.example.com/${v}`)],
  ['interface', (d, v) => (d.spec.networking.interface = v)],
  ['DNS server', (d, v) => (d.spec.networking.dnsServers = [v])],
  ['search domain', (d, v) => (d.spec.networking.searchDomains = [v])],
  ['CNI manifest URL', (d, v) => (d.spec.networking.cni = {type: 'flannel', manifestUrl: `https://example.com/${v}.yml`})],
  ['VRRP password', (d, v) => (d.spec.loadBalancer.authPass = v)],
  ['status URL', (d, v) => (d.spec.bootstrap = {statusUrl: `http://10.0.0.2:8080/${v}`})],
]

/** Reads a KEY=VALUE file with the bootstrap program's own loop and prints it as JSON lines. */
function readParamsWithBash(text: string): Record<string, string> {
  const script = `declare -A P=()
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in '' | '#'*) continue ;; esac
  key=\${line%%=*}
  if [[ ! "$key" =~ ^[A-Z][A-Z0-9_]*$ ]] || [ "$key" = "$line" ]; then echo "BAD LINE" >&2; exit 2; fi
  P[$key]=\${line#*=}
done
for k in "\${!P[@]}"; do printf '%s\\0%s\\0' "$k" "\${P[$k]}"; done`
  const r = spawnSync('bash', ['-c', script], {input: text})
  assert.equal(r.status, 0, r.stderr.toString())
  const parts = r.stdout.toString().split('\0')
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < parts.length; i += 2) out[parts[i] as string] = parts[i + 1] as string
  return out
}

function check(field: string, set: Setter, value: string): void {
  const doc = parse(profileText('quickstart.yaml'))
  set(doc, value)
  const text = stringify(doc)
  const r = loadProfile(text, 'fuzz.yaml')
  if (!r.cluster) {
    const errors = r.diagnostics.filter((d) => d.severity === 'error')
    assert.ok(errors.length > 0)
    for (const e of errors) {
      assert.match(e.code, /^NG\d{4}$/)
      assert.ok(e.position && e.position.line >= 1, `${field}: ${e.code} without a position`)
      assert.ok(formatPath(e.path).startsWith('spec') || formatPath(e.path) === '(document)', `${field}: ${formatPath(e.path)}`)
    }
    return
  }
  for (const node of [r.cluster.nodes[0], r.cluster.nodes[3]]) {
    if (!node) continue
    const plan = buildNodePlan(r.cluster, node, {assets: loadAssets(), material: MATERIAL})
    const out = emitCloudInit(plan)
    const cfg = parse(out.userData.toString(), {version: '1.1'}) as {
      write_files: Array<{path: string; content: string; permissions: string}>
    }
    // Every file comes back byte for byte, with its mode as a quoted octal string.
    const byPath = new Map(cfg.write_files.map((f) => [f.path, f]))
    for (const f of plan.files) {
      const back = byPath.get(f.path)
      assert.ok(back, `${field}: ${f.path} lost`)
      assert.equal(back.content, f.content, `${field}: ${f.path} changed meaning`)
      assert.equal(typeof back.permissions, 'string')
    }
    // The parameter file reads back, with the program's own loop, to exactly the planned keys and values.
    const paramsFile = plan.files.find((f) => f.path === '/etc/nodegen/bootstrap.env')
    assert.ok(paramsFile)
    const expected = Object.fromEntries(
      paramsFile.content
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    )
    assert.deepEqual(readParamsWithBash(paramsFile.content), expected, `${field}: the parameter file reads back differently`)
    assert.ok(!('KEEP_SECRETS' in expected && expected.KEEP_SECRETS === '1'), `${field}: a value set KEEP_SECRETS`)
    // kubeadm's documents parse as YAML and keep the value where it was put.
    const kubeadm = plan.files.find((f) => f.path === '/etc/nodegen/kubeadm/config.yaml')
    if (kubeadm) for (const d of parseAllDocuments(kubeadm.content, {version: '1.1'})) assert.deepEqual(d.errors, [])
    if (field === 'file content' && plan.role !== 'etcd') assert.equal(byPath.get('/etc/example.conf')?.content, value)
    if (field === 'kubelet extra arg value' && node.name === r.cluster.nodes[3]?.name) assert.ok(kubeadm?.content.includes(value))
  }
}

describe('hostile input', () => {
  for (const [field, set] of FIELDS) {
    it(`${field}: refused with a position, or written without changing meaning`, () => {
      for (const seed of [FIXED_SEED, RANDOM_SEED]) {
        fc.assert(
          fc.property(hostile, (v) => check(field, set, v)),
          {seed, numRuns: RUNS, examples: NASTY.map((n) => [n])},
        )
      }
    })
  }
  it(`random seed ${RANDOM_SEED} (rerun with NODEGEN_FUZZ_SEED=${RANDOM_SEED})`, () => {})
})
