/**
 * Hostile strings in every free-text field of a profile either fail validation with a positioned
 * error at that field, or come out so that no script, unit, YAML or JSON document changes meaning:
 * the user-data parses back with the value intact, the bootstrap parameter file reads back (with
 * the bootstrap program's own loop) to exactly the keys and values planned, and kubeadm's documents
 * carry the value verbatim. A fixed seed runs always; a random one is printed for reproduction.
 *
 * Beside the hand-picked fields, every string field of the JSON Schema (values, map keys, array
 * items) is found by walking schema/profile.schema.json and gets the same treatment, so a field
 * added to the schema is covered without anyone remembering to list it. The profile's file name
 * (which goes into every generated file's header comment) and the iPXE script are checked too.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {randomInt} from 'node:crypto'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {parse, parseAllDocuments, stringify} from 'yaml'
import {loadAssets} from '../../../src/app/assets.js'
import {emitCloudInit} from '../../../src/emit/cloud-init/index.js'
import {ipxeNodeScript} from '../../../src/media/pxe.js'
import {buildNodePlan, type ClusterMaterial} from '../../../src/plan/build.js'
import {formatPath, loadProfile} from '../../../src/profile/index.js'
import {profileText, REPO_ROOT} from '../../support/profiles.js'

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

function check(field: string, set: Setter, value: string, fileName = 'fuzz.yaml'): void {
  const doc = parse(profileText('quickstart.yaml'))
  set(doc, value)
  const text = stringify(doc)
  const r = loadProfile(text, fileName)
  if (!r.cluster) {
    const errors = r.diagnostics.filter((d) => d.severity === 'error')
    assert.ok(errors.length > 0)
    for (const e of errors) {
      assert.match(e.code, /^NG\d{4}$/)
      assert.ok(e.position && e.position.line >= 1, `${field}: ${e.code} without a position`)
      assert.ok(/^(spec|metadata|apiVersion|kind|\(document\))/.test(formatPath(e.path)), `${field}: ${formatPath(e.path)}`)
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
    // Every generated file's header comment is one line of printable text.
    for (const f of plan.files) {
      const header = f.content.split('\n').find((l) => l.includes('Generated by nodegen from'))
      if (header) assert.doesNotMatch(header, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, `${field}: ${f.path}`)
    }
    const pxe = r.cluster.platform.pxe
    if (pxe) {
      // The iPXE script keeps its shape: one kernel line, initrd lines, boot; no command of the profile's.
      const script = ipxeNodeScript(r.cluster, node, {base: 'http://10.0.0.2:8080', matchBy: pxe.matchBy ?? 'mac'})
      for (const line of (script ?? '').trimEnd().split('\n'))
        assert.match(
          line,
          /^(#!ipxe|# Generated by nodegen for [^\n]*; do not edit|kernel \S+( [^\n]*)?|initrd \S+|boot)$/,
          `${field}: ${JSON.stringify(line)}`,
        )
      if (script) assert.equal(script.match(/^kernel /gm)?.length, 1)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Every string field of the JSON Schema

interface SchemaNode {
  type?: string | string[]
  properties?: Record<string, SchemaNode>
  additionalProperties?: SchemaNode | boolean
  propertyNames?: SchemaNode
  items?: SchemaNode
  anyOf?: SchemaNode[]
  oneOf?: SchemaNode[]
  allOf?: SchemaNode[]
}

/** Paths of every string the schema allows: `a.b`, `a[]` (an item), `a.*` (a map value), `a.<key>` (a map key). */
export function schemaStringPaths(schema: SchemaNode): string[] {
  const out = new Set<string>()
  const walk = (n: SchemaNode | undefined, p: string) => {
    if (!n || typeof n !== 'object') return
    for (const alt of [...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])]) walk(alt, p)
    const types = Array.isArray(n.type) ? n.type : [n.type]
    if (types.includes('string')) out.add(p)
    for (const [k, v] of Object.entries(n.properties ?? {})) walk(v, p ? `${p}.${k}` : k)
    if (n.additionalProperties && typeof n.additionalProperties === 'object') {
      walk(n.additionalProperties, `${p}.*`)
      out.add(`${p}.<key>`)
    }
    if (n.items) walk(n.items, `${p}[]`)
  }
  walk(schema, '')
  return [...out].sort()
}

/** Sections whose other required fields a value needs around it to be read at all. */
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML edited by path
const CONTEXT: Array<[RegExp, (d: any) => void]> = [
  [
    /^spec\.platform\.pxe\./,
    (d) =>
      (d.spec.platform = {
        type: 'pxe',
        pxe: {serverUrl: 'http://10.0.0.2:8080', kernel: {'almalinux-9': {kernel: 'vmlinuz', initrd: ['initrd.img'], args: 'quiet'}}},
      }),
  ],
  [/^spec\.nodes\[\]\.(mac|uuid)$/, (d) => (d.spec.platform = {type: 'pxe', pxe: {serverUrl: 'http://10.0.0.2:8080', kernel: {}}})],
]

/** A setter for a schema path: creates what is missing, puts `v` (or a map entry keyed `v`) at the end. */
function setterFor(p: string): Setter {
  return (doc, v) => {
    for (const [re, ctx] of CONTEXT) if (re.test(p)) ctx(doc)
    const segs = p.split('.')
    // biome-ignore lint/suspicious/noExplicitAny: parsed YAML edited by path
    let cur: any = doc
    for (let i = 0; i < segs.length; i++) {
      const last = i === segs.length - 1
      let seg = segs[i] as string
      const items = seg.endsWith('[]')
      if (items) seg = seg.slice(0, -2)
      if (seg === '<key>') {
        for (const k of Object.keys(cur)) delete cur[k]
        cur[v] = p.startsWith('spec.kubernetes.featureGates') ? true : 'x'
        return
      }
      const key = seg === '*' ? (Object.keys(cur)[0] ?? (p.includes('pxe.kernel') ? 'almalinux-9' : 'example.com/x')) : seg
      if (items) {
        if (!Array.isArray(cur[key])) cur[key] = []
        const idx = key === 'nodes' ? 3 : 0
        if (last) {
          cur[key][idx] = v
          return
        }
        if (cur[key][idx] === undefined || typeof cur[key][idx] !== 'object') cur[key][idx] = {}
        cur = cur[key][idx]
        continue
      }
      if (last) {
        cur[key] = v
        return
      }
      if (cur[key] === undefined || typeof cur[key] !== 'object' || Array.isArray(cur[key])) cur[key] = {}
      cur = cur[key]
    }
  }
}

const SCHEMA = JSON.parse(readFileSync(path.join(REPO_ROOT, 'schema/profile.schema.json'), 'utf8')) as SchemaNode
const SCHEMA_RUNS = Number(process.env.NODEGEN_FUZZ_SCHEMA_RUNS ?? 8)

describe('hostile input in every string field of the JSON Schema', () => {
  const paths = schemaStringPaths(SCHEMA)
  it('the schema walk finds the fields (a broken walk would test nothing)', () => {
    assert.ok(paths.length >= 100, `${paths.length} string fields`)
    for (const p of ['spec.platform.pxe.kernel.*.args', 'spec.platform.pxe.kernel.*.initrd[]', 'spec.networking.cni.manifestFile'])
      assert.ok(paths.includes(p), p)
  })
  for (const p of paths) {
    it(`${p}: refused with a position, or written without changing meaning`, () => {
      const set = setterFor(p)
      for (const seed of [FIXED_SEED, RANDOM_SEED])
        fc.assert(
          fc.property(hostile, (v) => check(p, set, v)),
          {seed, numRuns: SCHEMA_RUNS, examples: NASTY.map((n) => [n])},
        )
    })
  }
  it("the profile's file name cannot add lines to the generated files", () => {
    for (const name of ['a\nPROXY_HTTPS_PROXY=http://evil:3128\n.yaml', 'x\r\nKEEP_SECRETS=1.yaml', 'b\u2028c.yaml', 'c\u0085d.yaml']) {
      const r = loadProfile(profileText('quickstart.yaml'), name)
      assert.ok(r.cluster)
      const plan = buildNodePlan(r.cluster, r.cluster.nodes[3] as never, {assets: loadAssets(), material: MATERIAL})
      const params = plan.files.find((f) => f.path === '/etc/nodegen/bootstrap.env')?.content ?? ''
      const keys = Object.keys(readParamsWithBash(params))
      assert.ok(!keys.includes('PROXY_HTTPS_PROXY') && !(readParamsWithBash(params).KEEP_SECRETS === '1'), name)
      for (const f of plan.files) {
        const line = f.content.split('\n').find((l) => l.includes('Generated by nodegen from'))
        if (line) assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(line), `${f.path}: ${JSON.stringify(line)}`)
      }
      check('profile file name', () => {}, '', name)
    }
  })
  it('a CNI manifest file outside the profile directory is refused', () => {
    for (const f of ['../../../etc/passwd', '/etc/passwd', 'cni/../../x.yaml']) {
      const doc = parse(profileText('quickstart.yaml'))
      doc.spec.networking.cni = {type: 'flannel', manifestFile: f}
      const r = loadProfile(stringify(doc), 'p.yaml')
      assert.equal(r.cluster, undefined, f)
      assert.ok(
        r.diagnostics.some((d) => d.severity === 'error' && formatPath(d.path) === 'spec.networking.cni.manifestFile'),
        f,
      )
    }
  })
})

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
