/**
 * The real kubeadm of each release judges what nodegen renders: `kubeadm config validate` on every
 * kubeadm document of every example profile (and of the oldest and newest minor the profile
 * language accepts), and kubeadm's own init phases, run offline in a scratch root (`--rootfs`) that
 * holds exactly the files nodegen places on a control plane: the certificates it issues beside
 * nodegen's CAs, the kubeconfigs, the static-pod manifests with nodegen's patches, and the join
 * command (token and discovery hash) a dry-run init prints.
 */
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it, type TestContext} from 'node:test'
import {parseAllDocuments, parse as parseYaml} from 'yaml'
import {readBundle} from '../../../src/plan/secrets/index.js'
import {kubeTestVersions, requireKubeCommand} from '../../support/kubernetes.js'
import {exampleProfiles, loadCluster, PROFILES_DIR} from '../../support/profiles.js'
import {type RenderedForTest, renderProfile} from '../../support/render.js'
import {requireTool, run} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-kubeadm-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

/** The kubeadm documents nodegen writes for a node (InitConfiguration or JoinConfiguration first). */
const KUBEADM_CONFIG = /\/kubeadm\/(config|config-next|rejoin)\.yaml$/

type RenderedNode = RenderedForTest['nodes'][number]
type PlanFile = {path: string; content: string; mode: number}

/** Every file nodegen places on the node, the secret bundle's included (aws/gcp control planes). */
function nodeFiles(n: RenderedNode): PlanFile[] {
  return [...n.plan.files, ...(n.bundle ? readBundle(n.bundle.archive) : [])]
}

function kubeadmConfigs(n: RenderedNode): PlanFile[] {
  return nodeFiles(n).filter((f) => KUBEADM_CONFIG.test(f.path))
}

/** The profile's text with another Kubernetes version, written where renderProfile can read it. */
function profileAtVersion(profile: string, version: string): string {
  const text = readFileSync(profile, 'utf8').replace(/^(\s+version:\s*)[0-9.]+\s*$/m, `$1${version}`)
  assert.match(text, new RegExp(`version: ${version.replaceAll('.', '\\.')}`), `${profile} names no spec.kubernetes.version`)
  const dir = mkdtempSync(path.join(tmp, 'profile-'))
  const file = path.join(dir, path.basename(profile))
  writeFileSync(file, text)
  return file
}

function validate(t: TestContext, kubeadm: string, label: string, f: PlanFile): void {
  const file = path.join(mkdtempSync(path.join(tmp, 'doc-')), path.basename(f.path))
  writeFileSync(file, f.content)
  const r = run(kubeadm, ['config', 'validate', '--config', file], {allowFail: true})
  assert.equal(r.status, 0, `kubeadm config validate rejected ${label} ${f.path}:\n${r.stderr}${r.stdout}`)
  t.diagnostic(`${label} ${f.path}: ${r.stdout.trim()}`)
}

async function validateProfile(t: TestContext, profile: string, version: string, label: string): Promise<number> {
  const kubeadm = requireKubeCommand(t, 'kubeadm', version)
  const r = await renderProfile(profile)
  assert.equal(r.cluster.kubernetes.version, version)
  let docs = 0
  for (const n of r.nodes) {
    for (const f of kubeadmConfigs(n)) {
      validate(t, kubeadm, `${label} ${n.plan.node}`, f)
      docs++
    }
  }
  return docs
}

describe('the real kubeadm accepts every kubeadm document nodegen renders', () => {
  it('every example profile names a version the test setup builds', () => {
    const built = new Set(kubeTestVersions().map((v) => v.version))
    for (const p of exampleProfiles()) {
      const v = loadCluster(p).kubernetes.version
      assert.ok(built.has(v), `${path.basename(p)} uses Kubernetes ${v}: add it to scripts/kubernetes-versions.txt`)
    }
  })

  for (const profile of exampleProfiles()) {
    const name = path.basename(profile)
    it(`${name}: kubeadm config validate of its own version`, async (t) => {
      const version = loadCluster(profile).kubernetes.version
      const docs = await validateProfile(t, profile, version, name)
      assert.ok(docs > 0, `${name} rendered no kubeadm document`)
    })
  }

  const versions = kubeTestVersions()
  for (const end of ['oldest', 'newest']) {
    const v = versions.find((x) => x.why.startsWith(end))
    assert.ok(v, `scripts/kubernetes-versions.txt marks no ${end} version`)
    for (const name of ['quickstart.yaml', 'ha-external-etcd.yaml', 'flatcar.yaml', 'aws.yaml']) {
      it(`${name} at the ${end} minor (${v.version}): kubeadm config validate`, async (t) => {
        const docs = await validateProfile(t, profileAtVersion(path.join(PROFILES_DIR, name), v.version), v.version, `${name}@${v.version}`)
        assert.ok(docs > 0)
      })
    }
    it(`quickstart.yaml with ignored preflight checks at the ${end} minor (${v.version}): kubeadm config validate`, async (t) => {
      const file = profileAtVersion(path.join(PROFILES_DIR, 'quickstart.yaml'), v.version)
      writeFileSync(file, readFileSync(file, 'utf8').replace(/^( {2}kubernetes:\n)/m, '$1    ignorePreflightErrors: [NumCPU, Mem]\n'))
      assert.ok((await validateProfile(t, file, v.version, `quickstart.yaml+ignorePreflightErrors@${v.version}`)) > 0)
    })
  }

  it('a document kubeadm must reject is rejected (the check is not vacuous)', async (t) => {
    const r = await renderProfile(path.join(PROFILES_DIR, 'quickstart.yaml'))
    const kubeadm = requireKubeCommand(t, 'kubeadm', r.cluster.kubernetes.version)
    const cp0 = r.nodes[0]
    assert.ok(cp0)
    const f = kubeadmConfigs(cp0)[0]
    assert.ok(f)
    for (const [what, broken] of [
      ['an unknown field', f.content.replace('kind: ClusterConfiguration\n', 'kind: ClusterConfiguration\ncontrolPlaneEndPoint: x\n')],
      ['a malformed token', f.content.replace(/token: [a-z0-9]{6}\.[a-z0-9]{16}/, 'token: not-a-token')],
      ['an invalid pod subnet', f.content.replace(/podSubnet: \S+/, 'podSubnet: 10.244.0.0/99')],
    ] as const) {
      assert.notEqual(broken, f.content, what)
      const file = path.join(mkdtempSync(path.join(tmp, 'bad-')), 'config.yaml')
      writeFileSync(file, broken)
      const out = run(kubeadm, ['config', 'validate', '--config', file], {allowFail: true})
      assert.notEqual(out.status, 0, `kubeadm accepted ${what}`)
    }
  })
})

/** A scratch root holding exactly the files nodegen places on the node. */
function scratchRoot(n: RenderedNode): string {
  const root = mkdtempSync(path.join(tmp, `root-${n.plan.node}-`))
  for (const f of nodeFiles(n)) {
    const p = path.join(root, f.path)
    mkdirSync(path.dirname(p), {recursive: true})
    writeFileSync(p, f.content, {mode: f.mode})
  }
  return root
}

function kubeadmIn(kubeadm: string, root: string, args: string[]): string {
  const r = run(kubeadm, ['--rootfs', root, ...args], {allowFail: true})
  assert.equal(r.status, 0, `kubeadm ${args.join(' ')}:\n${r.stderr}${r.stdout}`)
  return r.stdout + r.stderr
}

/** `--flag=value` arguments of a static pod's first container. */
function podFlags(manifest: string): Map<string, string> {
  const pod = parseYaml(manifest) as {spec: {containers: Array<{command: string[]}>}}
  const flags = new Map<string, string>()
  for (const a of pod.spec.containers[0]?.command ?? []) {
    const m = /^--([^=]+)=(.*)$/.exec(a)
    if (m?.[1] !== undefined && m[2] !== undefined) flags.set(m[1], m[2])
  }
  return flags
}

function sha(file: string): string {
  return readFileSync(file).toString('base64')
}

const PHASE_CASES = [
  {profile: 'quickstart.yaml', topology: 'stacked'},
  {profile: 'ha-external-etcd.yaml', topology: 'external'},
] as const

describe("kubeadm's init phases on the files nodegen places (offline, in a scratch root)", () => {
  for (const c of PHASE_CASES) {
    it(`${c.profile}: certs, kubeconfig, control-plane with the patches, etcd (${c.topology})`, async (t) => {
      const r = await renderProfile(path.join(PROFILES_DIR, c.profile))
      const kubeadm = requireKubeCommand(t, 'kubeadm', r.cluster.kubernetes.version)
      const openssl = requireTool(t, 'openssl')
      const cp0 = r.nodes.find((n) => n.plan.role === 'control-plane')
      assert.ok(cp0)
      const config = kubeadmConfigs(cp0).find((f) => f.path.endsWith('/config.yaml'))
      assert.ok(config, 'control plane 0 has no config.yaml')
      const docs = parseAllDocuments(config.content).map((d) => d.toJS())
      const init = docs.find((d) => d.kind === 'InitConfiguration')
      const clusterCfg = docs.find((d) => d.kind === 'ClusterConfiguration')
      assert.ok(init && clusterCfg, 'config.yaml of control plane 0 is not an InitConfiguration + ClusterConfiguration')
      const nodeIp: string = init.localAPIEndpoint.advertiseAddress
      const root = scratchRoot(cp0)
      const pki = path.join(root, 'etc/kubernetes/pki')
      const placed = readdirSync(pki).filter((f) => /\.(crt|key|pub)$/.test(f))
      const before = new Map(placed.map((f) => [f, sha(path.join(pki, f))]))

      kubeadmIn(kubeadm, root, ['init', 'phase', 'certs', 'all', '--config', config.path])
      for (const [f, digest] of before) assert.equal(sha(path.join(pki, f)), digest, `kubeadm replaced nodegen's ${f}`)
      const leaves = [
        'apiserver',
        'apiserver-kubelet-client',
        'front-proxy-client',
        ...(c.topology === 'stacked' ? ['apiserver-etcd-client'] : []),
      ]
      for (const leaf of leaves) {
        const ca = leaf === 'front-proxy-client' ? 'front-proxy-ca.crt' : leaf === 'apiserver-etcd-client' ? 'etcd/ca.crt' : 'ca.crt'
        const v = run(openssl, ['verify', '-CAfile', path.join(pki, ca), path.join(pki, `${leaf}.crt`)], {allowFail: true})
        assert.equal(v.status, 0, `${leaf}.crt does not verify against nodegen's ${ca}: ${v.stderr}`)
      }
      const sans = run(openssl, ['x509', '-noout', '-ext', 'subjectAltName', '-in', path.join(pki, 'apiserver.crt')]).stdout
      const endpointHost = String(clusterCfg.controlPlaneEndpoint).replace(/:\d+$/, '')
      for (const want of [endpointHost, nodeIp, cp0.plan.node])
        assert.match(sans, new RegExp(want.replaceAll('.', '\\.')), `apiserver.crt lacks ${want}`)

      kubeadmIn(kubeadm, root, ['init', 'phase', 'kubeconfig', 'all', '--config', config.path])
      for (const conf of ['admin.conf', 'controller-manager.conf', 'scheduler.conf', 'kubelet.conf']) {
        const kc = parseYaml(readFileSync(path.join(root, 'etc/kubernetes', conf), 'utf8'))
        const server: string = kc.clusters[0].cluster.server
        // admin.conf goes through the endpoint; the node's own components may use the local API server.
        if (conf === 'admin.conf') assert.equal(server, `https://${clusterCfg.controlPlaneEndpoint}`, conf)
        else assert.ok([`https://${clusterCfg.controlPlaneEndpoint}`, `https://${nodeIp}:6443`].includes(server), `${conf}: ${server}`)
        assert.equal(
          Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString().trim(),
          readFileSync(path.join(pki, 'ca.crt'), 'utf8').trim(),
          `${conf} trusts another CA`,
        )
      }

      const patched = kubeadmIn(kubeadm, root, ['init', 'phase', 'control-plane', 'all', '--config', config.path])
      const manifests = path.join(root, 'etc/kubernetes/manifests')
      const api = podFlags(readFileSync(path.join(manifests, 'kube-apiserver.yaml'), 'utf8'))
      assert.equal(api.get('advertise-address'), nodeIp)
      if (r.cluster.loadBalancer.type === 'keepalived-haproxy') {
        assert.match(patched, /Applied patch of type "application\/json-patch\+json" to target "kube-apiserver"/)
        assert.equal(
          api.get('bind-address'),
          nodeIp,
          "nodegen's patch must bind the API server to the node address (haproxy holds the VIP's port)",
        )
      }
      for (const flag of [
        'tls-cert-file',
        'tls-private-key-file',
        'client-ca-file',
        'etcd-cafile',
        'etcd-certfile',
        'etcd-keyfile',
        'service-account-key-file',
        'proxy-client-cert-file',
      ]) {
        const p = api.get(flag)
        assert.ok(p, `kube-apiserver has no --${flag}`)
        assert.ok(readFileSync(path.join(root, p)).length > 0, `--${flag}=${p} is not in the scratch root`)
      }
      const etcdServers = (api.get('etcd-servers') ?? '').split(',')
      if (c.topology === 'stacked') {
        assert.deepEqual(etcdServers, ['https://127.0.0.1:2379'])
        kubeadmIn(kubeadm, root, ['init', 'phase', 'etcd', 'local', '--config', config.path])
        const etcd = podFlags(readFileSync(path.join(manifests, 'etcd.yaml'), 'utf8'))
        assert.equal(etcd.get('advertise-client-urls'), `https://${nodeIp}:2379`)
        assert.equal(etcd.get('initial-advertise-peer-urls'), `https://${nodeIp}:2380`)
        assert.equal(etcd.get('initial-cluster'), `${cp0.plan.node}=https://${nodeIp}:2380`)
        for (const flag of ['cert-file', 'key-file', 'peer-cert-file', 'peer-key-file', 'trusted-ca-file', 'peer-trusted-ca-file']) {
          assert.ok(readFileSync(path.join(root, etcd.get(flag) ?? '/missing')).length > 0, `etcd --${flag}`)
        }
      } else {
        const members = r.cluster.nodes.filter((n) => n.role === 'etcd')
        assert.ok(members.length >= 3)
        const want = members.map((m) => `https://${m.ip}:2379`)
        assert.deepEqual([...etcdServers].sort(), [...want].sort(), 'kube-apiserver --etcd-servers are not the external members')
        assert.ok(readFileSync(path.join(root, api.get('etcd-certfile') ?? '/missing')).length > 0)
      }
    })
  }

  it("the profile's patches: kubeadm applies them after nodegen's to the static pods and the kubelet's configuration", async (t) => {
    const text = readFileSync(path.join(PROFILES_DIR, 'quickstart.yaml'), 'utf8').replace(
      '    imageRepository: registry.k8s.io\n',
      [
        '    imageRepository: registry.k8s.io\n',
        '    patches:\n',
        '      - target: kube-apiserver\n',
        '        patch: {spec: {containers: [{name: kube-apiserver, livenessProbe: {timeoutSeconds: 60, failureThreshold: 30}}]}}\n',
        '      - target: etcd\n',
        '        type: json\n',
        '        patch: [{op: replace, path: /spec/containers/0/livenessProbe/timeoutSeconds, value: 45}]\n',
        '      - target: kubeletconfiguration\n',
        '        type: merge\n',
        '        patch: {serializeImagePulls: false}\n',
      ].join(''),
    )
    assert.match(text, /patches:/)
    const profile = path.join(mkdtempSync(path.join(tmp, 'profile-')), 'quickstart.yaml')
    writeFileSync(profile, text)
    const r = await renderProfile(profile)
    const kubeadm = requireKubeCommand(t, 'kubeadm', r.cluster.kubernetes.version)
    const cp0 = r.nodes.find((n) => n.plan.role === 'control-plane')
    assert.ok(cp0)
    const config = kubeadmConfigs(cp0).find((f) => f.path.endsWith('/config.yaml'))
    assert.ok(config)
    const root = scratchRoot(cp0)
    kubeadmIn(kubeadm, root, ['init', 'phase', 'certs', 'all', '--config', config.path])
    const out = [
      kubeadmIn(kubeadm, root, ['init', 'phase', 'control-plane', 'apiserver', '--config', config.path]),
      kubeadmIn(kubeadm, root, ['init', 'phase', 'etcd', 'local', '--config', config.path]),
    ].join('')
    assert.match(out, /Applied patch of type "application\/json-patch\+json" to target "kube-apiserver"/)
    assert.match(out, /Applied patch of type "application\/strategic-merge-patch\+json" to target "kube-apiserver"/)
    assert.match(out, /Applied patch of type "application\/json-patch\+json" to target "etcd"/)
    type Pod = {spec: {containers: Array<{command: string[]; livenessProbe: {timeoutSeconds: number; failureThreshold: number}}>}}
    const manifests = path.join(root, 'etc/kubernetes/manifests')
    const api = parseYaml(readFileSync(path.join(manifests, 'kube-apiserver.yaml'), 'utf8')) as Pod
    const nodeIp = r.cluster.nodes.find((n) => n.name === cp0.plan.node)?.ip
    assert.ok(nodeIp)
    assert.equal(api.spec.containers[0]?.livenessProbe.timeoutSeconds, 60)
    assert.equal(api.spec.containers[0]?.livenessProbe.failureThreshold, 30)
    assert.ok(api.spec.containers[0]?.command.includes(`--bind-address=${nodeIp}`), "nodegen's own patch is still applied")
    const etcd = parseYaml(readFileSync(path.join(manifests, 'etcd.yaml'), 'utf8')) as Pod
    assert.equal(etcd.spec.containers[0]?.livenessProbe.timeoutSeconds, 45)

    // A worker's kubeadm join applies the kubelet's patch when it writes the kubelet's configuration.
    const worker = r.nodes.find((n) => n.plan.role === 'worker')
    assert.ok(worker)
    const patches = nodeFiles(worker).filter((f) => f.path.includes('/kubeadm/patches/'))
    assert.deepEqual(
      patches.map((f) => path.basename(f.path)),
      ['kubeletconfiguration1-03+merge.json'],
    )
    const kubelet = kubeadmIn(kubeadm, root, ['init', 'phase', 'kubelet-start', '--config', config.path])
    assert.match(kubelet, /Applied patch of type "application\/merge-patch\+json" to target "kubeletconfiguration"/)
    assert.match(readFileSync(path.join(root, 'var/lib/kubelet/config.yaml'), 'utf8'), /serializeImagePulls: false/)
  })

  it('a dry-run kubeadm init prints the token and discovery hash nodegen gave every joining node', async (t) => {
    const r = await renderProfile(path.join(PROFILES_DIR, 'quickstart.yaml'))
    const kubeadm = requireKubeCommand(t, 'kubeadm', r.cluster.kubernetes.version)
    const cp0 = r.nodes[0]
    assert.ok(cp0)
    const root = scratchRoot(cp0)
    const config = kubeadmConfigs(cp0).find((f) => f.path.endsWith('/config.yaml'))
    assert.ok(config)
    // A dry run copies only the cluster CA into its scratch directory and then cannot find the
    // front-proxy CA, so the leaves are issued for real first (as on the node, beside nodegen's CAs).
    kubeadmIn(kubeadm, root, ['init', 'phase', 'certs', 'all', '--config', config.path])
    // Preflight checks the machine running the test (swap, ports, the container runtime), not the config.
    const out = kubeadmIn(kubeadm, root, ['init', '--dry-run', '--skip-phases=preflight', '--config', config.path])
    const hashes = new Set([...out.matchAll(/--discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})/g)].map((m) => m[1]))
    const tokens = new Set([...out.matchAll(/--token ([a-z0-9]{6}\.[a-z0-9]{16})/g)].map((m) => m[1]))
    assert.equal(hashes.size, 1, `kubeadm printed no single discovery hash:\n${out.slice(-2000)}`)
    assert.equal(tokens.size, 1)
    const [hash] = hashes
    const [token] = tokens
    let joins = 0
    for (const n of r.nodes.slice(1)) {
      const f = kubeadmConfigs(n).find((x) => x.path.endsWith('/config.yaml'))
      assert.ok(f, `${n.plan.node} has no config.yaml`)
      const join = parseAllDocuments(f.content)
        .map((d) => d.toJS())
        .find((d) => d.kind === 'JoinConfiguration')
      assert.ok(join, `${n.plan.node}'s config.yaml is no JoinConfiguration`)
      assert.deepEqual(join.discovery.bootstrapToken.caCertHashes, [hash], `${n.plan.node}: nodegen's hash differs from kubeadm's`)
      assert.equal(join.discovery.bootstrapToken.token, token, `${n.plan.node}: not the token control plane 0 registers`)
      joins++
    }
    assert.ok(joins >= 2)
  })
})

/** The control-plane flags the extraArgs test gives each component, and the pod kubeadm writes them into. */
const EXTRA_ARGS = {
  apiServer: {pod: 'kube-apiserver', flags: {'audit-log-maxage': '7'}},
  controllerManager: {pod: 'kube-controller-manager', flags: {'leader-elect-lease-duration': '60s', 'leader-elect-renew-deadline': '40s'}},
  scheduler: {pod: 'kube-scheduler', flags: {'leader-elect-lease-duration': '60s', 'leader-elect-renew-deadline': '40s'}},
  etcd: {pod: 'etcd', flags: {'heartbeat-interval': '500', 'election-timeout': '5000'}},
} as const

describe('spec.kubernetes.extraArgs reach the static pods kubeadm writes', () => {
  const versions = kubeTestVersions()
  const cases = [versions.find((x) => x.why.startsWith('oldest'))?.version, '1.34.2']
  for (const version of cases) {
    it(`quickstart.yaml at ${version}: every component's extra flags are in its manifest`, async (t) => {
      assert.ok(version)
      const kubeadm = requireKubeCommand(t, 'kubeadm', version)
      const lines = Object.entries(EXTRA_ARGS).map(
        ([c, {flags}]) =>
          `      ${c}: {${Object.entries(flags)
            .map(([k, v]) => `${k}: "${v}"`)
            .join(', ')}}`,
      )
      const file = profileAtVersion(path.join(PROFILES_DIR, 'quickstart.yaml'), version)
      const text = readFileSync(file, 'utf8').replace(/^( {2}kubernetes:\n)/m, `$1    extraArgs:\n${lines.join('\n')}\n`)
      assert.match(text, /extraArgs:\n {6}apiServer/)
      writeFileSync(file, text)
      const r = await renderProfile(file)
      const cp0 = r.nodes.find((n) => n.plan.role === 'control-plane')
      assert.ok(cp0)
      const config = kubeadmConfigs(cp0).find((f) => f.path.endsWith('/config.yaml'))
      assert.ok(config)
      validate(t, kubeadm, `extraArgs@${version}`, config)
      const root = scratchRoot(cp0)
      kubeadmIn(kubeadm, root, ['init', 'phase', 'control-plane', 'all', '--config', config.path])
      kubeadmIn(kubeadm, root, ['init', 'phase', 'etcd', 'local', '--config', config.path])
      for (const {pod, flags} of Object.values(EXTRA_ARGS)) {
        const got = podFlags(readFileSync(path.join(root, 'etc/kubernetes/manifests', `${pod}.yaml`), 'utf8'))
        for (const [flag, value] of Object.entries(flags)) assert.equal(got.get(flag), value, `${pod} --${flag}`)
      }
      // nodegen's own flags are still there beside them
      const api = podFlags(readFileSync(path.join(root, 'etc/kubernetes/manifests/kube-apiserver.yaml'), 'utf8'))
      assert.ok(api.get('advertise-address'))
    })
  }
})

/** A bootstrap.env parameter of the node (KEY=VALUE lines). */
function nodeParam(n: RenderedNode, key: string): string | undefined {
  const env = nodeFiles(n).find((f) => f.path.endsWith('/nodegen/bootstrap.env'))
  assert.ok(env, `${n.plan.node} has no bootstrap.env`)
  return env.content
    .split('\n')
    .find((l) => l.startsWith(`${key}=`))
    ?.slice(key.length + 1)
}

describe("a stacked control plane's resumed join names only phases its kubeadm has", () => {
  const versions = kubeTestVersions()
  const cases = [versions.find((x) => x.why.startsWith('oldest'))?.version, '1.34.2']
  for (const version of cases) {
    it(`quickstart.yaml at ${version}: kubeadm join takes JOIN_RESUME_SKIP_PHASES (and kubelet-start) and refuses a name it lacks`, async (t) => {
      assert.ok(version)
      const kubeadm = requireKubeCommand(t, 'kubeadm', version)
      const r = await renderProfile(profileAtVersion(path.join(PROFILES_DIR, 'quickstart.yaml'), version))
      const cp1 = r.nodes.filter((n) => n.plan.role === 'control-plane')[1]
      assert.ok(cp1)
      const skip = nodeParam(cp1, 'JOIN_RESUME_SKIP_PHASES')
      assert.ok(skip, 'a stacked control plane has JOIN_RESUME_SKIP_PHASES')
      const config = kubeadmConfigs(cp1).find((f) => f.path.endsWith('/config.yaml'))
      assert.ok(config)
      const root = scratchRoot(cp1)
      // kubeadm checks the phase names before it does anything; what it then fails at (this machine
      // is no node of the cluster) is not the point.
      const joinWith = (phases: string) =>
        run('timeout', ['60', kubeadm, '--rootfs', root, 'join', '--dry-run', '--config', config.path, '--skip-phases', phases], {
          allowFail: true,
        })
      const ours = joinWith(`${skip},kubelet-start`)
      assert.doesNotMatch(ours.stdout + ours.stderr, /invalid phase name/, `${version}: ${skip}`)
      const bogus = joinWith(`${skip},no-such-phase`)
      assert.match(bogus.stderr + bogus.stdout, /invalid phase name: no-such-phase/)
      t.diagnostic(`${version}: --skip-phases ${skip},kubelet-start accepted`)
    })
  }
})

describe('a resumed kubeadm init names only phases its kubeadm has', () => {
  const versions = kubeTestVersions()
  const cases = [versions.find((x) => x.why.startsWith('oldest'))?.version, '1.34.2']
  for (const version of cases) {
    it(`quickstart.yaml at ${version}: kubeadm init takes every name of INIT_PHASES in --skip-phases and refuses one it lacks`, async (t) => {
      assert.ok(version)
      const kubeadm = requireKubeCommand(t, 'kubeadm', version)
      const r = await renderProfile(profileAtVersion(path.join(PROFILES_DIR, 'quickstart.yaml'), version))
      const cp0 = r.nodes.find((n) => n.plan.role === 'control-plane')
      assert.ok(cp0)
      const phases = nodeParam(cp0, 'INIT_PHASES')?.split(' ') ?? []
      const resumable = nodeParam(cp0, 'INIT_RESUMABLE_PHASES')?.split(' ') ?? []
      assert.ok(phases.includes('addon') && resumable.includes('addon') && !resumable.includes('bootstrap-token'))
      const config = kubeadmConfigs(cp0).find((f) => f.path.endsWith('/config.yaml'))
      assert.ok(config)
      const root = scratchRoot(cp0)
      // Every phase skipped: kubeadm checks the names, then has nothing to do.
      const initWith = (skip: string[]) =>
        run('timeout', ['60', kubeadm, '--rootfs', root, 'init', '--dry-run', '--config', config.path, '--skip-phases', skip.join(',')], {
          allowFail: true,
        })
      const ours = initWith(phases)
      assert.doesNotMatch(ours.stdout + ours.stderr, /invalid phase name/, `${version}: ${phases.join(',')}`)
      const bogus = initWith([...phases, 'no-such-phase'])
      assert.match(bogus.stderr + bogus.stdout, /invalid phase name: no-such-phase/)
      t.diagnostic(`${version}: --skip-phases ${phases.join(',')} accepted`)
    })
  }
})
