/**
 * plan/secrets: which nodes get a bundle, what leaves their plan, chunking per service limit,
 * determinism, the archive's format (read back by the node's real tar), and the inline refusal in
 * validation.
 */
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {loadAssets} from '../../../src/app/assets.js'
import {compactShell} from '../../../src/plan/files.js'
import {
  bundleSummary,
  CHUNK_LIMIT,
  chunkName,
  readBundle,
  SECRETS_LIST_FILE,
  SECRETS_PARAMS_FILE,
  separateSecrets,
} from '../../../src/plan/secrets/index.js'
import type {NodePlan, PlanFile} from '../../../src/plan/types.js'
import {type Cluster, loadProfile} from '../../../src/profile/index.js'
import {loadCluster, PROFILES_DIR, profileText} from '../../support/profiles.js'
import {requireTool, run} from '../../support/tools.js'

const AWS = profileText('aws.yaml')
const GCP = profileText('gcp.yaml')
const SCRIPT = loadAssets().secretsScript ?? ''

function fakePlan(cluster: Cluster, node: string, extra: PlanFile[] = []): NodePlan {
  const f = (p: string, content: string, secret: boolean, origin = 'test'): PlanFile => ({
    path: p,
    content,
    mode: secret ? 0o600 : 0o644,
    owner: 'root:root',
    secret,
    origin,
  })
  return {
    cluster: cluster.name,
    node,
    role: 'control-plane',
    ordinal: 0,
    os: 'almalinux-9',
    family: 'rhel',
    format: 'cloud-init',
    source: {profile: 'x.yaml', path: ['spec', 'nodes', 0]},
    hostname: node,
    users: [],
    files: [
      f('/etc/kubernetes/pki/ca.crt', '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n', false, 'pki'),
      f('/etc/kubernetes/pki/ca.key', '-----BEGIN PRIVATE KEY-----\nBBB\n-----END PRIVATE KEY-----\n', true, 'pki'),
      f('/etc/nodegen/hosts', '10.0.0.1 a\n', false),
      ...extra,
    ].sort((a, b) => (a.path < b.path ? -1 : 1)),
    links: [],
    directories: [],
    units: [],
    bootstrapUnit: 'nodegen-bootstrap.service',
    sizeBudget: 16384,
  }
}

describe('secret bundles', () => {
  const aws = loadCluster(path.join(PROFILES_DIR, 'aws.yaml'))
  const cp = aws.nodes[0] as Cluster['nodes'][number]
  const worker = aws.nodes.find((n) => n.role === 'worker') as Cluster['nodes'][number]

  it('takes the secret and PKI files out of a control plane plan and leaves the fetch parameters, digest and file list', () => {
    const {plan, bundle} = separateSecrets(aws, cp, fakePlan(aws, cp.name), SCRIPT)
    assert.ok(bundle)
    assert.deepEqual(
      plan.files.map((f) => f.path),
      ['/etc/nodegen/hosts', SECRETS_PARAMS_FILE, SECRETS_LIST_FILE, '/usr/local/lib/nodegen/fetch-secrets.sh'].sort(),
    )
    assert.ok(!plan.files.some((f) => /PRIVATE KEY/.test(f.content)))
    const params = plan.files.find((f) => f.path === SECRETS_PARAMS_FILE)?.content ?? ''
    assert.match(params, new RegExp(`^SECRET_BUNDLE_SHA256=${bundle.sha256}$`, 'm'))
    assert.match(params, /^SECRET_BACKEND=aws-secrets-manager$/m)
    assert.match(params, /^SECRET_NAMES=nodegen\/aws-demo\/aws-cp-1\/0$/m)
    assert.match(params, /^SECRET_SERVICE_URL=https:\/\/secretsmanager\.eu-west-1\.amazonaws\.com$/m)
    assert.match(params, /^SECRET_METADATA_URL=http:\/\/169\.254\.169\.254$/m)
    assert.match(params, /^SECRET_REGION=eu-west-1$/m)
    assert.match(plan.files.find((f) => f.path === SECRETS_LIST_FILE)?.content ?? '', /^\/etc\/kubernetes\/pki\/ca\.key\t0600$/m)
    assert.deepEqual(
      readBundle(bundle.archive).map((f) => [f.path, f.mode]),
      [
        ['/etc/kubernetes/pki/ca.crt', 0o600],
        ['/etc/kubernetes/pki/ca.key', 0o600],
      ],
    )
    assert.equal(readBundle(bundle.archive)[1]?.content, '-----BEGIN PRIVATE KEY-----\nBBB\n-----END PRIVATE KEY-----\n')
    assert.deepEqual(bundle.labels, {'nodegen-cluster': 'aws-demo', 'nodegen-node': 'aws-cp-1'})
    assert.doesNotMatch(JSON.stringify(bundleSummary(bundle)), /PRIVATE KEY|BBB/)
  })

  it('is deterministic: the same plan gives byte-identical bundles', () => {
    const a = separateSecrets(aws, cp, fakePlan(aws, cp.name), SCRIPT).bundle
    const b = separateSecrets(aws, cp, fakePlan(aws, cp.name), SCRIPT).bundle
    assert.ok(a && b)
    assert.deepEqual(Buffer.from(a.archive), Buffer.from(b.archive))
    assert.equal(a.sha256, b.sha256)
  })

  it('leaves workers, NoCloud nodes and inline on aws unchanged', () => {
    const w = fakePlan(aws, worker.name)
    assert.equal(separateSecrets(aws, worker, w, SCRIPT).plan, w)
    const qs = loadCluster(path.join(PROFILES_DIR, 'quickstart.yaml'))
    const p = fakePlan(qs, 'x')
    assert.equal(separateSecrets(qs, qs.nodes[0] as Cluster['nodes'][number], p, SCRIPT).plan, p)
    const inline = loadProfile(AWS.replace('secretBackend: aws-secrets-manager', 'secretBackend: inline'), 'aws.yaml', {
      insecureInlineSecrets: true,
    })
    assert.ok(inline.cluster)
    const p2 = fakePlan(inline.cluster, cp.name)
    assert.equal(separateSecrets(inline.cluster, inline.cluster.nodes[0] as Cluster['nodes'][number], p2, SCRIPT).bundle, undefined)
  })

  it("splits into chunks within each service's limit, named by cluster, node and index", () => {
    const big: PlanFile = {
      path: '/etc/nodegen/big.key',
      content: randomBytes(100_000).toString('base64'),
      mode: 0o600,
      owner: 'root:root',
      secret: true,
      origin: 'test',
    }
    const texts: Record<string, string> = {
      'aws-secrets-manager': AWS,
      'ssm-parameter-store': AWS.replace('secretBackend: aws-secrets-manager', 'secretBackend: ssm-parameter-store'),
      'gcp-secret-manager': GCP,
    }
    for (const [backend, text] of Object.entries(texts)) {
      const c = loadProfile(text, 'p.yaml').cluster as Cluster
      const n = c.nodes[0] as Cluster['nodes'][number]
      const {bundle} = separateSecrets(c, n, fakePlan(c, n.name, [big]), SCRIPT)
      assert.ok(bundle)
      const limit = CHUNK_LIMIT[backend as keyof typeof CHUNK_LIMIT]
      assert.equal(bundle.chunks.length, Math.ceil(Buffer.from(bundle.archive).toString('base64').length / limit), backend)
      for (const [i, ch] of bundle.chunks.entries()) {
        assert.ok(ch.value.length <= limit)
        assert.equal(ch.name, chunkName(bundle.backend, c.name, n.name, i))
      }
      assert.deepEqual(Buffer.from(bundle.chunks.map((x) => x.value).join(''), 'base64'), Buffer.from(bundle.archive))
    }
    assert.equal(chunkName('gcp-secret-manager', 'a-b', 'c', 0) === chunkName('gcp-secret-manager', 'a', 'b-c', 0), false)
  })

  it('GNU tar reads the archive (what the node runs)', (t) => {
    const tar = requireTool(t, 'tar')
    const {bundle} = separateSecrets(aws, cp, fakePlan(aws, cp.name), SCRIPT)
    assert.ok(bundle)
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ng-bundle-'))
    try {
      writeFileSync(path.join(dir, 'b.tgz'), bundle.archive)
      run(tar, ['-xzf', path.join(dir, 'b.tgz'), '-C', dir, '--no-same-owner'])
      assert.match(readFileSync(path.join(dir, 'etc/kubernetes/pki/ca.key'), 'utf8'), /PRIVATE KEY/)
      assert.match(run(tar, ['-tvzf', path.join(dir, 'b.tgz')]).stdout, /-rw------- root\/root .* etc\/kubernetes\/pki\/ca\.key/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('ships the fetch program without comment lines, still shellcheck-clean', (t) => {
    const sc = requireTool(t, 'shellcheck')
    const compact = compactShell(SCRIPT)
    assert.ok(compact.length < SCRIPT.length)
    assert.deepEqual(
      compact.split('\n').filter((l) => /^\s*#/.test(l) && !/# shellcheck /.test(l)),
      [],
    )
    assert.match(compact, /^# shellcheck shell=bash$/m)
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ng-sc-'))
    try {
      writeFileSync(path.join(dir, 'fetch-secrets.sh'), compact)
      const r = run(sc, ['-S', 'style', path.join(dir, 'fetch-secrets.sh')], {allowFail: true})
      assert.equal(r.status, 0, r.stdout)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('validation of the secret backend', () => {
  const inline = AWS.replace('secretBackend: aws-secrets-manager', 'secretBackend: inline')
  it('refuses inline on aws and gcp, at the field, naming the flag', () => {
    for (const [text, platform] of [
      [inline, 'aws'],
      [GCP.replace('secretBackend: gcp-secret-manager', 'secretBackend: inline'), 'gcp'],
    ] as const) {
      const r = loadProfile(text, 'p.yaml')
      assert.equal(r.cluster, undefined)
      const d = r.diagnostics.find((x) => x.code === 'NG0427')
      assert.ok(d, platform)
      assert.equal(d.severity, 'error')
      assert.deepEqual(d.path, ['spec', 'platform', platform, 'secretBackend'])
      assert.match(d.message, /--insecure-inline-secrets/)
      const line = text.split('\n').findIndex((l) => l.includes('secretBackend: inline')) + 1
      assert.equal(d.position?.line, line)
    }
  })
  it('accepts it with --insecure-inline-secrets, with a warning that IMDSv2 hop limit 1 is required', () => {
    const r = loadProfile(inline, 'p.yaml', {insecureInlineSecrets: true})
    assert.ok(r.cluster)
    const d = r.diagnostics.find((x) => x.code === 'NG0428')
    assert.equal(d?.severity, 'warning')
    assert.match(d?.message ?? '', /IMDSv2 with hop limit 1/)
  })
  it('refuses a region or project that cannot be used in the fetch step', () => {
    const r = loadProfile(AWS.replace('region: eu-west-1', 'region: "eu-west-1/../x"'), 'p.yaml')
    assert.ok(r.diagnostics.some((d) => d.code === 'NG0301' && d.path.join('.') === 'spec.platform.aws.region'))
    const g = loadProfile(GCP.replace('project: my-project', 'project: "My Project"'), 'p.yaml')
    assert.ok(g.diagnostics.some((d) => d.code === 'NG0301' && d.path.join('.') === 'spec.platform.gcp.project'))
  })
})
