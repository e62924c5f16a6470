/**
 * `nodegen bundle` for the RHEL family and Flatcar, against local upstreams made with the real tools
 * and judged by the real dnf and Ignition's own validator:
 *
 * - an AlmaLinux-layout mirror (BaseOS/ and AppStream/ under x86_64/os/), a pkgs.k8s.io-layout rpm
 *   repository (`core:/stable:/v1.34/rpm/`, its key at repodata/repomd.xml.key) and Docker's
 *   (`linux/centos/9/x86_64/stable/`, its key at linux/centos/gpg), of empty packages built with
 *   rpmbuild, each signed by its own throwaway key with rpmsign, indexed by createrepo_c and served
 *   on loopback; images in Debian's docker-registry;
 * - the built CLI runs `bundle` against them and `serve --bundle` serves the result; then the real
 *   bundle.sh fetches the keys the node's repository files name (checked against SHA256SUMS and its
 *   pin), and the real dnf, reading only the rendered nodegen-bundle.repo and kubernetes.repo
 *   (baseurl turned to the served bundle), with
 *   gpgcheck on, installs every package of the inventory into an empty installroot, in the three
 *   transactions install-packages.sh runs;
 * - the profile's Flatcar worker: its Kubernetes sysext image is in the bundle's sysext/ (listed in
 *   SHA256SUMS, its SHA-512 in manifest.json), its rendered Ignition passes ignition-validate, fetches
 *   the sysext from the bundle and carries bundle.sh for the images;
 * - broken upstreams (a package nothing has, a package signed by an unknown key, a package whose bytes
 *   differ from the metadata, a sysext that is not the pinned one) are refused with their codes, and
 *   nothing is left at the output path.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it, type TestContext} from 'node:test'
import {buildInventory} from '../../../src/plan/inventory.js'
import {buildOsFiles} from '../../../src/plan/os/index.js'
import {encodeParams} from '../../../src/plan/params.js'
import {builtCli, serveCli} from '../../support/cli.js'
import {type ServedDirectory, serveDirectory} from '../../support/net.js'
import {loadCluster, REPO_ROOT} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {requireRoot, requireTool, run, runAsync} from '../../support/tools.js'
import {
  buildRpm,
  createRepo,
  type FakeRpm,
  freePort,
  type GpgKey,
  makeGpgKey,
  pushImages,
  type Registry,
  releaseGpgKey,
  rpmFiles,
  signRpms,
  startRegistry,
} from '../../support/upstream.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-bundle-el-'))
const www = path.join(tmp, 'www')
const work = path.join(tmp, 'work')
let upstream: ServedDirectory | undefined
let registry: Registry | undefined
const keys: GpgKey[] = []

before(async () => {
  mkdirSync(www, {recursive: true})
  mkdirSync(work, {recursive: true})
  upstream = await serveDirectory(www)
})

after(async () => {
  await registry?.stop()
  await upstream?.close()
  for (const k of keys) releaseGpgKey(k)
  rmSync(tmp, {recursive: true, force: true})
})

const BUNDLE_URL = 'http://10.30.0.250:8080/'
const SYSEXT = 'kubernetes-v1.34.2-x86-64.raw'
const SYSEXT_BYTES = Buffer.from('nodegen test stand-in for the kubernetes sysext\n')

/** The mirror's packages: what the inventory lists for AlmaLinux 9, their dependencies, and one nothing needs. */
const BASEOS: FakeRpm[] = [
  {name: 'glibc-fake', version: '2.34', release: '100.el9'},
  {name: 'chrony', version: '4.5', release: '3.el9', requires: ['glibc-fake']},
  {name: 'curl', version: '7.76.1', release: '29.el9', requires: ['glibc-fake']},
  {name: 'openssl', version: '3.2.2', release: '6.el9'},
  {name: 'iproute-tc', version: '6.2.0', release: '6.el9'},
  {name: 'iptables-nft', version: '1.8.10', release: '4.el9', provides: ['iptables']},
  {name: 'firewalld', version: '1.3.4', release: '7.el9', requires: ['iptables']},
  {name: 'unneeded', version: '1.0', release: '1.el9'},
]
const APPSTREAM: FakeRpm[] = [
  {name: 'conntrack-tools', version: '1.4.7', release: '2.el9'},
  {name: 'socat', version: '1.7.4.1', release: '5.el9'},
  {name: 'keepalived', version: '2.2.8', release: '4.el9'},
  {name: 'haproxy', version: '2.4.22', release: '3.el9'},
  {name: 'container-selinux', version: '2.229.0', release: '1.el9'},
]
const DOCKER: FakeRpm[] = [
  {name: 'containerd.io', version: '2.0.11', release: '3.1.el9', requires: ['container-selinux'], provides: ['runc']},
  {name: 'containerd.io', version: '2.0.12', release: '1.el9', requires: ['container-selinux'], provides: ['runc']},
]
/** pkgs.k8s.io's, with decoy versions beside the pin. */
const KUBERNETES: FakeRpm[] = [
  {name: 'kubelet', version: '1.34.2', release: '150500.1.1', requires: ['kubernetes-cni >= 1.2.0', 'conntrack-tools', 'iptables']},
  {name: 'kubelet', version: '1.34.1', release: '150500.1.1', requires: ['kubernetes-cni']},
  {name: 'kubelet', version: '1.34.20', release: '150500.1.1', requires: ['kubernetes-cni']},
  {name: 'kubeadm', version: '1.34.2', release: '150500.1.1', requires: ['cri-tools >= 1.30.0', 'kubelet >= 1.34.0']},
  {name: 'kubectl', version: '1.34.2', release: '150500.1.1'},
  {name: 'cri-tools', version: '1.34.0', release: '150500.1.1'},
  {name: 'cri-tools', version: '1.33.0', release: '150500.1.1'},
  {name: 'kubernetes-cni', version: '1.7.1', release: '150500.1.1'},
]

interface Upstreams {
  url: string
  /** The vendor key's file (--os-gpg-key). */
  osKey: string
  /** A key that signed nothing here. */
  rogue: GpgKey
}

/** A repository directory of signed packages, indexed. */
function repository(dir: string, packages: FakeRpm[], key: GpgKey): void {
  for (const p of packages) buildRpm(work, dir, p, undefined)
  signRpms(
    rpmFiles(dir).map((f) => path.join(dir, f)),
    key,
  )
  createRepo(dir)
}

function buildUpstreams(): Upstreams {
  const vendor = makeGpgKey(work, 'vendor')
  const docker = makeGpgKey(work, 'docker')
  const k8s = makeGpgKey(work, 'kubernetes')
  const rogue = makeGpgKey(work, 'rogue')
  keys.push(vendor, docker, k8s, rogue)
  const mirror = path.join(www, 'almalinux', '9')
  repository(path.join(mirror, 'BaseOS/x86_64/os/Packages'), BASEOS, vendor)
  createRepo(path.join(mirror, 'BaseOS/x86_64/os'))
  repository(path.join(mirror, 'AppStream/x86_64/os/Packages'), APPSTREAM, vendor)
  createRepo(path.join(mirror, 'AppStream/x86_64/os'))
  const osKey = path.join(work, 'RPM-GPG-KEY-test-vendor')
  writeFileSync(osKey, vendor.publicKey)
  repository(path.join(www, 'docker/linux/centos/9/x86_64/stable/Packages'), DOCKER, docker)
  createRepo(path.join(www, 'docker/linux/centos/9/x86_64/stable'))
  writeFileSync(path.join(www, 'docker/linux/centos/gpg'), docker.publicKey)
  const k8sRepo = path.join(www, 'pkgs', 'core:', 'stable:', 'v1.34', 'rpm')
  repository(path.join(k8sRepo, 'x86_64'), KUBERNETES, k8s)
  createRepo(k8sRepo)
  writeFileSync(path.join(k8sRepo, 'repodata', 'repomd.xml.key'), k8s.publicKey)
  // Flatcar's extensions: a stand-in for the sysext image of the profile's version.
  mkdirSync(path.join(www, 'extensions'))
  writeFileSync(path.join(www, 'extensions', SYSEXT), SYSEXT_BYTES)
  return {url: upstream?.url ?? '', osKey, rogue}
}

/** A copy of the mirror with one change to AppStream, indexed again (or, `after`, changed after indexing). */
function brokenMirror(name: string, change: (appstream: string) => void, after?: (appstream: string) => void): string {
  const mirror = path.join(www, `almalinux-${name}`, '9')
  cpSync(path.join(www, 'almalinux', '9'), mirror, {recursive: true})
  const appstream = path.join(mirror, 'AppStream/x86_64/os')
  change(appstream)
  createRepo(appstream)
  after?.(appstream)
  return `${upstream?.url}/almalinux-${name}/9`
}

function profileText(registryHost: string, u: Upstreams): string {
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: el-island}
spec:
  kubernetes: {version: 1.34.2, imageRepository: ${registryHost}/k8s}
  os: almalinux-9
  controlPlaneEndpoint: {host: 10.30.0.100}
  loadBalancer: {type: keepalived-haproxy, virtualRouterId: 51}
  networking: {cni: {type: flannel, manifestFile: kube-flannel.yml}}
  containerRuntime: {type: containerd, version: 2.0.11, dockerRepository: ${u.url}/docker}
  firewall: open-ports
  airgap: {bundle: ${BUNDLE_URL}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
    - {name: w-0, role: worker, ip: 10.30.0.20/24}
    - {name: fc-0, role: worker, ip: 10.30.0.30/24, os: flatcar}
`
}

const FLANNEL = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kube-flannel-ds, namespace: kube-flannel}
spec:
  template:
    spec:
      containers:
      - name: kube-flannel
        image: ghcr.io/flannel-io/flannel:v0.26.7
`

function requireTools(t: TestContext): void {
  requireRoot(t, 'dnf installs into an installroot as root')
  for (const tool of [
    'skopeo',
    'docker-registry',
    'gpg',
    'rpmbuild',
    'rpmsign',
    'rpmkeys',
    'rpm',
    'createrepo_c',
    'dnf',
    'curl',
    'sha256sum',
    'ignition-validate',
  ])
    requireTool(t, tool)
}

interface Setup {
  profile: string
  state: string
  upstreams: Upstreams
  cluster: ReturnType<typeof loadCluster>
}

let setup: Setup | undefined

/** The upstreams, the registry with every image, the profile: made once for every case. */
async function prepare(t: TestContext): Promise<Setup> {
  requireTools(t)
  if (setup) return setup
  registry = await startRegistry(t, path.join(tmp, 'registry'))
  const upstreams = buildUpstreams()
  const dir = path.join(tmp, 'profile')
  mkdirSync(dir, {recursive: true})
  const profile = path.join(dir, 'el.yaml')
  const text = profileText(registry.host, upstreams)
  writeFileSync(profile, text)
  writeFileSync(path.join(dir, 'kube-flannel.yml'), FLANNEL)
  const cluster = loadCluster(profile, text)
  const inventory = buildInventory(cluster, {cniManifest: FLANNEL})
  pushImages(work, [...new Set(inventory.images.map((i) => i.image))])
  setup = {profile, state: path.join(tmp, 'state'), upstreams, cluster}
  return setup
}

function bundleArgs(s: Setup, out: string, mirror: string): string[] {
  return [
    builtCli(),
    'bundle',
    s.profile,
    '-o',
    out,
    '--os-mirror',
    mirror,
    '--os-gpg-key',
    s.upstreams.osKey,
    '--package-repository',
    `${s.upstreams.url}/pkgs`,
    '--sysext-repository',
    `${s.upstreams.url}/extensions`,
    '--insecure-registry',
    registry?.host ?? '',
    '--state',
    s.state,
  ]
}

describe('nodegen bundle for the RHEL family, judged by the real dnf', {timeout: 900_000}, () => {
  it('builds rpm repositories from which dnf, with gpgcheck on and only the bundle, installs every package', async (t) => {
    const s = await prepare(t)
    const out = path.join(tmp, 'out-ok', 'bundle')
    const r = await runAsync(process.execPath, [...bundleArgs(s, out, `${s.upstreams.url}/almalinux/9`), '--json'])
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`)
    const result = JSON.parse(r.stdout) as {
      sha256: string
      kubernetes: Array<{format: string; path: string; packages: Array<{name: string; version: string}>}>
      os: Array<{os: string; packages: Array<{name: string; version: string}>}>
      sysext: Array<{file: string; sha256: string; sha512: string}>
    }
    assert.deepEqual(readdirSync(path.dirname(out)), ['bundle'])

    // Flatcar's sysext, as upstream served it, with both hashes.
    assert.deepEqual(result.sysext, [
      {
        file: `sysext/${SYSEXT}`,
        source: `${s.upstreams.url}/extensions/${SYSEXT}`,
        sha256: createHash('sha256').update(SYSEXT_BYTES).digest('hex'),
        sha512: createHash('sha512').update(SYSEXT_BYTES).digest('hex'),
      },
    ])
    assert.ok(readFileSync(path.join(out, 'sysext', SYSEXT)).equals(SYSEXT_BYTES))

    // pkgs.k8s.io's rpm layout with the pinned versions and the highest cri-tools, its key beside the metadata.
    const k8s = result.kubernetes.find((k) => k.format === 'rpm')
    assert.ok(k8s, JSON.stringify(result.kubernetes))
    assert.deepEqual(
      result.kubernetes.map((k) => k.format),
      ['rpm'],
      'no deb repository for an EL-only profile',
    )
    assert.equal(k8s.path, 'kubernetes/core:/stable:/v1.34/rpm')
    assert.deepEqual(k8s.packages.map((p) => `${p.name}-${p.version}`).sort(), [
      'cri-tools-1.34.0-150500.1.1',
      'kubeadm-1.34.2-150500.1.1',
      'kubectl-1.34.2-150500.1.1',
      'kubelet-1.34.2-150500.1.1',
      'kubernetes-cni-1.7.1-150500.1.1',
    ])
    for (const f of ['repodata/repomd.xml', 'repodata/repomd.xml.key']) assert.ok(existsSync(path.join(out, k8s.path, f)), f)

    // The OS closure: every inventory package and its dependencies, nothing else; containerd.io at the pin.
    const osRepo = result.os.find((o) => o.os === 'almalinux-9')
    assert.ok(osRepo)
    assert.deepEqual(osRepo.packages.map((p) => `${p.name}-${p.version}`).sort(), [
      'chrony-4.5-3.el9',
      'conntrack-tools-1.4.7-2.el9',
      'container-selinux-2.229.0-1.el9',
      'containerd.io-2.0.11-3.1.el9',
      'curl-7.76.1-29.el9',
      'firewalld-1.3.4-7.el9',
      'glibc-fake-2.34-100.el9',
      'haproxy-2.4.22-3.el9',
      'iproute-tc-6.2.0-6.el9',
      'iptables-nft-1.8.10-4.el9',
      'keepalived-2.2.8-4.el9',
      'openssl-3.2.2-6.el9',
      'socat-1.7.4.1-5.el9',
    ])
    assert.ok(existsSync(path.join(out, 'os/almalinux-9/repodata/repomd.xml')))
    const shipped = readFileSync(path.join(out, 'os/almalinux-9/Release.key'), 'utf8')
    assert.equal(shipped.split('-----BEGIN PGP PUBLIC KEY BLOCK-----').length - 1, 2, "the vendor's and Docker's keys")

    // SHA256SUMS covers both repositories' keys; sha256sum agrees with every line.
    const sums = readFileSync(path.join(out, 'SHA256SUMS'), 'utf8')
    assert.match(sums, / {2}os\/almalinux-9\/Release\.key$/m)
    assert.match(sums, / {2}kubernetes\/core:\/stable:\/v1\.34\/rpm\/repodata\/repomd\.xml\.key$/m)
    assert.match(sums, new RegExp(` {2}sysext/${SYSEXT.replaceAll('.', '\\.')}$`, 'm'))
    run('sha256sum', ['-c', '--strict', '--quiet', 'SHA256SUMS'], {cwd: out})

    // The bundle served by nodegen serve (at /, the path of the profile's bundle URL); the node's
    // bundle.sh fetches the keys its repository files name, checked against the pin.
    const port = await freePort()
    const served = await serveCli(
      [s.profile, '--listen', `127.0.0.1:${port}`, '--state', s.state, '--bundle', out],
      'serving the air-gap bundle',
    )
    t.after(() => served.stop())
    assert.match(served.output(), /NG1122/, 'serve says the profile names another server')
    const bundleUrl = `http://127.0.0.1:${port}/`
    const node = path.join(tmp, 'node')
    const repos = path.join(node, 'yum.repos.d')
    mkdirSync(repos, {recursive: true})
    const params = path.join(node, 'bootstrap.env')
    writeFileSync(params, encodeParams({BUNDLE_URL: bundleUrl, BUNDLE_SHA256: result.sha256}, '# a test node'))
    const bundleSh = path.join(REPO_ROOT, 'assets/bootstrap/bundle.sh')
    const env = {...process.env, NODEGEN_ROOT: node}
    const keyFiles = {bundle: path.join(node, 'nodegen-bundle.asc'), kubernetes: path.join(node, 'nodegen-kubernetes.asc')}
    for (const [rel, dest] of [
      ['os/almalinux-9/Release.key', keyFiles.bundle],
      [`${k8s.path}/repodata/repomd.xml.key`, keyFiles.kubernetes],
    ] as const) {
      const f = await runAsync('bash', [bundleSh, params, 'fetch', rel, dest], {env})
      assert.equal(f.status, 0, f.stderr)
    }

    // The rendered repository files, the bundle's URL turned to the served one, the keys where bundle.sh put them.
    const cp = s.cluster.nodes.find((n) => n.name === 'cp-0')
    assert.ok(cp)
    const files = buildOsFiles(s.cluster, cp).filter((f) => f.path.startsWith('/etc/yum.repos.d/'))
    assert.deepEqual(files.map((f) => f.path).sort(), ['/etc/yum.repos.d/kubernetes.repo', '/etc/yum.repos.d/nodegen-bundle.repo'])
    for (const f of files) {
      assert.match(f.content, /^gpgcheck=1$/m, f.path)
      writeFileSync(
        path.join(repos, path.basename(f.path)),
        f.content
          .replaceAll(BUNDLE_URL, bundleUrl)
          .replace('file:///etc/pki/rpm-gpg/nodegen-bundle.asc', `file://${keyFiles.bundle}`)
          .replace('file:///etc/pki/rpm-gpg/nodegen-kubernetes.asc', `file://${keyFiles.kubernetes}`),
      )
    }

    // dnf as install-packages.sh runs it: the bundle's two repositories only, three transactions.
    const root = path.join(node, 'root')
    mkdirSync(root, {recursive: true})
    const conf = path.join(node, 'dnf.conf')
    writeFileSync(conf, `[main]\ngpgcheck=1\nlocalpkg_gpgcheck=1\nplugins=0\ninstall_weak_deps=0\nreposdir=${repos}\n`)
    const dnf = [
      '-y',
      '--config',
      conf,
      '--installroot',
      root,
      '--releasever',
      '9',
      '--forcearch',
      'x86_64',
      `--setopt=reposdir=${repos}`,
      `--setopt=cachedir=${path.join(node, 'cache')}`,
      `--setopt=varsdir=${path.join(node, 'vars')}`,
      '--disablerepo=*',
      '--enablerepo=kubernetes',
      '--enablerepo=nodegen-bundle',
    ]
    const inventory = buildInventory(s.cluster, {cniManifest: FLANNEL}).os.find((o) => o.os === 'almalinux-9')
    assert.ok(inventory)
    const requests = inventory.packages.map((p) => p.request)
    const kube = ['kubelet-1.34.2', 'kubeadm-1.34.2', 'kubectl-1.34.2']
    const first = requests.filter((p) => !kube.includes(p) && p !== 'firewalld' && !['cri-tools', 'kubernetes-cni'].includes(p))
    for (const args of [
      ['install', ...first],
      ['install', 'firewalld'],
      ['install', '--disableexcludes=kubernetes', ...kube],
    ]) {
      const d = await runAsync('dnf', [...dnf, ...args], {env: {...process.env, LC_ALL: 'C.UTF-8'}})
      assert.equal(d.status, 0, `dnf ${args.join(' ')}:\n${d.stdout}\n${d.stderr}`)
    }
    const installed = run('rpm', ['--root', root, '-qa', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}\n']).stdout.split('\n')
    for (const p of inventory.packages)
      assert.ok(
        installed.some((i) => i.startsWith(`${p.name}-${p.version ?? ''}`)),
        `${p.name} is installed`,
      )
    assert.ok(!installed.some((i) => i.startsWith('unneeded-')))
    // dnf checked signatures with exactly the three keys the bundle ships (vendor, Docker, Kubernetes).
    const pubkeys = run('rpm', ['--root', root, '-q', 'gpg-pubkey', '--qf', '%{SUMMARY}\n']).stdout
    for (const who of ['vendor', 'docker', 'kubernetes']) assert.match(pubkeys, new RegExp(`${who} test key`), pubkeys)
    assert.doesNotMatch(pubkeys, /rogue/)

    // The Flatcar worker, rendered: Ignition's validator accepts it, the sysext comes from the bundle,
    // and bundle.sh (for the images) is in /opt/nodegen.
    const rendered = await renderProfile(s.profile)
    const fc = rendered.nodes.find((n) => n.plan.node === 'fc-0')
    assert.ok(fc && fc.format === 'ignition')
    const ign = path.join(node, 'fc-0.ign')
    writeFileSync(ign, fc.ignition as Buffer)
    const v = run('ignition-validate', [ign], {allowFail: true})
    assert.equal(v.status, 0, v.stdout + v.stderr)
    assert.equal(v.stdout + v.stderr, '', 'no warnings')
    const config = JSON.parse(readFileSync(ign, 'utf8')) as {
      storage: {files: Array<{path: string; mode?: number; contents?: {source?: string}}>}
    }
    const sysextFile = config.storage.files.find((f) => f.path === `/opt/extensions/kubernetes/${SYSEXT}`)
    assert.equal(sysextFile?.contents?.source, `${BUNDLE_URL}sysext/${SYSEXT}`)
    assert.equal(config.storage.files.find((f) => f.path === '/opt/nodegen/bundle.sh')?.mode, 0o755)
    // What Ignition would fetch there, from the served bundle: the bytes the manifest's SHA-512 names.
    const fetched = await fetch(`${bundleUrl}sysext/${SYSEXT}`)
    assert.equal(
      createHash('sha512')
        .update(Buffer.from(await fetched.arrayBuffer()))
        .digest('hex'),
      result.sysext[0]?.sha512,
    )
  })

  it('refuses a package no repository has (NG1114), leaving nothing at the output path', async (t) => {
    const s = await prepare(t)
    const mirror = brokenMirror('nohaproxy', (a) => rmSync(path.join(a, 'Packages', 'haproxy-2.4.22-3.el9.x86_64.rpm')))
    const out = path.join(tmp, 'out-nomatch', 'bundle')
    const r = await runAsync(process.execPath, bundleArgs(s, out, mirror), {env: {...process.env, OCLIF_COLUMNS: '2000'}})
    assert.equal(r.status, 1, r.stderr)
    assert.match(
      r.stderr,
      /NG1114: no repository for almalinux-9 \(.*almalinux-nohaproxy\/9 and the others the nodes read\) has haproxy: refused/,
    )
    assert.deepEqual(readdirSync(path.dirname(out)), [])
  })

  it('refuses a package signed by a key it was not given (NG1115), leaving nothing at the output path', async (t) => {
    const s = await prepare(t)
    const mirror = brokenMirror('rogue', (a) => signRpms([path.join(a, 'Packages', 'socat-1.7.4.1-5.el9.x86_64.rpm')], s.upstreams.rogue))
    const out = path.join(tmp, 'out-rogue', 'bundle')
    const r = await runAsync(process.execPath, bundleArgs(s, out, mirror), {env: {...process.env, OCLIF_COLUMNS: '2000'}})
    assert.equal(r.status, 1, r.stderr)
    assert.match(
      r.stderr,
      /NG1115: the signature of socat-1\.7\.4\.1-5\.el9\.x86_64 \(repository http:\/\/\S+\/almalinux-rogue\/9\/AppStream\/x86_64\/os\/, for almalinux-9\) does not verify with its keys \S+\/RPM-GPG-KEY-test-vendor: .*: refused/,
    )
    assert.deepEqual(readdirSync(path.dirname(out)), [])
  })

  it('refuses a sysext image that is not the one spec.kubernetes.sysextSha512 pins (NG1104), leaving nothing', async (t) => {
    const s = await prepare(t)
    const pinned = path.join(path.dirname(s.profile), 'pinned.yaml')
    writeFileSync(
      pinned,
      readFileSync(s.profile, 'utf8').replace(
        '  kubernetes: {version: 1.34.2,',
        `  kubernetes: {version: 1.34.2, sysextSha512: ${'e'.repeat(128)},`,
      ),
    )
    const out = path.join(tmp, 'out-sysext', 'bundle')
    const args = bundleArgs(s, out, `${s.upstreams.url}/almalinux/9`)
    args[2] = pinned
    const r = await runAsync(process.execPath, args, {env: {...process.env, OCLIF_COLUMNS: '2000'}})
    assert.equal(r.status, 1, r.stderr)
    assert.match(
      r.stderr,
      new RegExp(
        `NG1104: ${SYSEXT.replaceAll('.', '\\.')} from \\S+ has SHA-512 [0-9a-f]{128}, but spec\\.kubernetes\\.sysextSha512 says e{128}: refused`,
      ),
    )
    assert.deepEqual(readdirSync(path.dirname(out)), [])
  })

  it('refuses a package whose bytes differ from its metadata (NG1116), leaving nothing at the output path', async (t) => {
    const s = await prepare(t)
    const mirror = brokenMirror(
      'corrupt',
      () => {},
      (a) => {
        // Same size, one byte changed: only the checksum can tell.
        const f = path.join(a, 'Packages', 'keepalived-2.2.8-4.el9.x86_64.rpm')
        const b = readFileSync(f)
        b[b.length - 10] = (b[b.length - 10] ?? 0) ^ 0xff
        writeFileSync(f, b)
      },
    )
    const out = path.join(tmp, 'out-corrupt', 'bundle')
    const r = await runAsync(process.execPath, bundleArgs(s, out, mirror), {env: {...process.env, OCLIF_COLUMNS: '2000'}})
    assert.equal(r.status, 1, r.stderr)
    assert.match(
      r.stderr,
      /NG1116: keepalived-2\.2\.8-4\.el9\.x86_64 from \S+\/almalinux-corrupt\/9 for almalinux-9 does not match the checksum or size its repository metadata gives: .*checksum.*: refused/,
    )
    assert.deepEqual(readdirSync(path.dirname(out)), [])
  })
})
