/**
 * `nodegen bundle` against real local servers, judged by the real consumers of a bundle:
 *
 * - a real OCI registry (Debian's docker-registry, plain HTTP on 127.0.0.1) holding tiny images made
 *   here by hand and pushed with skopeo, under the names the profile's mirror gives them (the flannel
 *   images of the manifestFile under the mirror's rule);
 * - a pkgs.k8s.io-layout repository and a Debian-layout mirror of tiny fake packages built with
 *   dpkg-deb, signed with a key made here, served on loopback by this process;
 * - the built CLI runs `bundle` against them; then `sha256sum -c` checks SHA256SUMS, the real apt in
 *   a scratch configuration installs (download-only) from the bundle's kubernetes/ and os/ with only
 *   the bundle's key, and the real assets/bootstrap/bundle.sh imports every image into a real
 *   containerd (the CRI plugin on, as nodegen configures nodes) under the names the nodes use.
 */
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it, type TestContext} from 'node:test'
import {gzipSync} from 'node:zlib'
import {buildInventory} from '../../../src/plan/inventory.js'
import {buildOsFiles} from '../../../src/plan/os/index.js'
import {encodeParams} from '../../../src/plan/params.js'
import {builtCli} from '../../support/cli.js'
import {type Containerd, startContainerd} from '../../support/containerd.js'
import {type ServedDirectory, serveDirectory} from '../../support/net.js'
import {loadCluster, REPO_ROOT} from '../../support/profiles.js'
import {requireRoot, requireTool, run, runAsync} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-bundle-cmd-'))
const www = path.join(tmp, 'www')
let served: ServedDirectory | undefined
let base = ''
let registry: ChildProcess | undefined
let registryHost = ''
let containerd: Containerd | undefined

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

before(async () => {
  mkdirSync(www, {recursive: true})
  served = await serveDirectory(www)
  base = served.url
})

after(async () => {
  await containerd?.stop()
  if (registry && registry.exitCode === null) {
    const exited = new Promise((r) => registry?.once('exit', r))
    registry.kill('SIGTERM')
    await exited
  }
  await served?.close()
  rmSync(tmp, {recursive: true, force: true})
})

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const port = (probe.address() as AddressInfo).port
  await new Promise((r) => probe.close(r))
  return port
}

/** Debian's docker-registry on 127.0.0.1, plain HTTP, storage under tmp; its configuration from a file. */
async function startRegistry(t: TestContext): Promise<string> {
  const bin = requireTool(t, 'docker-registry')
  const port = await freePort()
  const dir = path.join(tmp, 'registry')
  mkdirSync(dir, {recursive: true})
  const config = path.join(dir, 'config.yml')
  writeFileSync(
    config,
    `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/data}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:${port}}\n`,
  )
  const log: string[] = []
  registry = spawn(bin, ['serve', config], {stdio: ['ignore', 'ignore', 'pipe']})
  registry.stderr?.on('data', (d: Buffer) => log.push(d.toString()))
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`)
      if (r.ok) return `127.0.0.1:${port}`
    } catch {
      // not listening yet
    }
    if (registry.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`docker-registry did not answer:\n${log.join('').slice(-2000)}`)
}

/** An OCI image layout made by hand: one gzip layer holding one file, its config and manifest. */
function ociLayout(name: string, content: string): string {
  const d = mkdtempSync(path.join(tmp, 'oci-'))
  const rootfs = path.join(d, 'rootfs')
  mkdirSync(rootfs)
  writeFileSync(path.join(rootfs, `${name}.txt`), content)
  const tarArgs = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0']
  const layerTar = run('tar', [...tarArgs, '-C', rootfs, '-cf', '-', '.']).stdoutBuf
  const layer = gzipSync(layerTar)
  const layout = path.join(d, 'layout')
  const blobs = path.join(layout, 'blobs', 'sha256')
  mkdirSync(blobs, {recursive: true})
  const blob = (b: Buffer | string) => {
    const h = sha256(b)
    writeFileSync(path.join(blobs, h), b)
    return {digest: `sha256:${h}`, size: Buffer.byteLength(b)}
  }
  const l = blob(layer)
  const config = blob(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {Entrypoint: [`/${name}.txt`]},
      rootfs: {type: 'layers', diff_ids: [`sha256:${sha256(layerTar)}`]},
    }),
  )
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...config},
      layers: [{mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l}],
    }),
  )
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({schemaVersion: 2, manifests: [{mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest}]}),
  )
  writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  return layout
}

/** A package with a control file and no files, as dpkg-deb builds it. */
function fakeDeb(dir: string, name: string, version: string, depends?: string): void {
  const root = path.join(tmp, 'build', `${name}_${version}`)
  mkdirSync(path.join(root, 'DEBIAN'), {recursive: true})
  writeFileSync(
    path.join(root, 'DEBIAN', 'control'),
    `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nMaintainer: nodegen tests <tests@nodegen.invalid>\n${depends ? `Depends: ${depends}\n` : ''}Description: fake ${name} for the bundle test\n`,
  )
  mkdirSync(dir, {recursive: true})
  run('dpkg-deb', ['--build', '--root-owner-group', '-Zgzip', root, path.join(dir, `${name}_${version}_amd64.deb`)])
}

interface Repos {
  /** The packageRepository prefix (pkgs.k8s.io's layout below it). */
  k8s: string
  /** The Debian mirror's URL and its keyring (binary, for signed-by). */
  mirror: string
  keyring: string
}

/** The upstream repositories, signed by a key made here (not the bundle's). */
function buildRepos(): Repos {
  const gnupg = path.join(tmp, 'upstream-gnupg')
  mkdirSync(gnupg, {mode: 0o700})
  const env = {...process.env, GNUPGHOME: gnupg}
  run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'upstream test <upstream@test.invalid>', 'ed25519', 'sign', 'never'], {env})
  const key = run('gpg', ['--armor', '--export'], {env}).stdout
  const sign = (dir: string) =>
    run('gpg', ['--batch', '--yes', '--clearsign', '-o', path.join(dir, 'InRelease'), path.join(dir, 'Release')], {env})

  // pkgs.k8s.io's layout: a flat repository with the files under amd64/, decoy versions beside the pin.
  const k8s = path.join(www, 'pkgs', 'core:', 'stable:', 'v1.34', 'deb')
  for (const [name, version, depends] of [
    ['kubelet', '1.34.2-1.1', 'kubernetes-cni (>= 1.2.0), conntrack, iptables'],
    ['kubelet', '1.34.1-1.1', 'kubernetes-cni'],
    ['kubelet', '1.34.20-1.1', 'kubernetes-cni'],
    ['kubeadm', '1.34.2-1.1', 'cri-tools (>= 1.30.0), kubelet (>= 1.34.0)'],
    ['kubectl', '1.34.2-1.1', undefined],
    ['cri-tools', '1.34.0-1.1', undefined],
    ['cri-tools', '1.33.0-1.1', undefined],
    ['kubernetes-cni', '1.7.1-1.1', undefined],
  ] as const)
    fakeDeb(path.join(k8s, 'amd64'), name, version, depends)
  writeFileSync(path.join(k8s, 'Packages'), run('apt-ftparchive', ['packages', 'amd64'], {cwd: k8s}).stdout)
  writeFileSync(path.join(k8s, 'Release'), run('apt-ftparchive', ['release', '.'], {cwd: k8s}).stdout)
  sign(k8s)
  writeFileSync(path.join(k8s, 'Release.key'), key)

  // A Debian mirror: dists/bookworm/main, pool/; a dependency chain (containerd -> runc -> libfake1)
  // and a package nothing needs.
  const deb = path.join(www, 'debian')
  const pool = path.join(deb, 'pool', 'main')
  for (const [name, version, depends] of [
    ['containerd', '1.6.20~ds1-1', 'runc (>= 1.0)'],
    ['runc', '1.1.5+ds1-1', 'libfake1'],
    ['libfake1', '2.0-1', undefined],
    ['chrony', '4.3-2', 'libfake1'],
    ['openssl', '3.0.17-1', undefined],
    ['conntrack', '1.4.7-1', undefined],
    ['socat', '1.7.4.4-2', undefined],
    ['curl', '7.88.1-10', undefined],
    ['ca-certificates', '20230311', undefined],
    ['iptables', '1.8.9-2', undefined],
    ['unneeded', '1.0-1', undefined],
  ] as const)
    fakeDeb(pool, name, version, depends)
  const bin = path.join(deb, 'dists', 'bookworm', 'main', 'binary-amd64')
  mkdirSync(bin, {recursive: true})
  writeFileSync(path.join(bin, 'Packages'), run('apt-ftparchive', ['packages', 'pool'], {cwd: deb}).stdout)
  const dist = path.join(deb, 'dists', 'bookworm')
  const opts = ['Suite=bookworm', 'Codename=bookworm', 'Components=main', 'Architectures=amd64'].flatMap((o) => [
    '-o',
    `APT::FTPArchive::Release::${o}`,
  ])
  writeFileSync(path.join(dist, 'Release'), run('apt-ftparchive', [...opts, 'release', '.'], {cwd: dist}).stdout)
  sign(dist)
  const keyring = path.join(tmp, 'upstream.gpg')
  run('gpg', ['--batch', '--yes', '--dearmor', '-o', keyring], {input: key, env})
  run('gpgconf', ['--kill', 'gpg-agent'], {env, allowFail: true})
  return {k8s: `${base}/pkgs`, mirror: `${base}/debian`, keyring}
}

const FLANNEL = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kube-flannel-ds, namespace: kube-flannel}
spec:
  template:
    spec:
      initContainers:
      - name: install-cni-plugin
        image: ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1
      containers:
      - name: kube-flannel
        image: ghcr.io/flannel-io/flannel:v0.26.7
`

function profileText(repos: Repos): string {
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: island}
spec:
  kubernetes: {version: 1.34.2, imageRepository: ${registryHost}/k8s, packageRepository: ${repos.k8s}}
  os: debian-12
  networking: {cni: {type: flannel, manifestFile: kube-flannel.yml}}
  containerRuntime: {type: containerd, source: distribution}
  airgap: {bundle: http://10.30.0.250:8080/}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
    - {name: w-0, role: worker, ip: 10.30.0.20/24}
`
}

function requireTools(t: TestContext): void {
  requireRoot(t, 'containerd mounts its snapshots; apt-get runs as root')
  for (const tool of [
    'skopeo',
    'docker-registry',
    'gpg',
    'gpgv',
    'apt-get',
    'apt-ftparchive',
    'dpkg-deb',
    'sha256sum',
    'curl',
    'containerd',
    'ctr',
  ])
    requireTool(t, tool)
}

describe('nodegen bundle against a real registry and local repositories', {timeout: 600_000}, () => {
  it('builds a bundle that sha256sum, apt and bundle.sh import-images accept', async (t) => {
    requireTools(t)
    registryHost = await startRegistry(t)
    const repos = buildRepos()
    const dir = path.join(tmp, 'profile')
    mkdirSync(dir)
    const profile = path.join(dir, 'island.yaml')
    writeFileSync(profile, profileText(repos))
    writeFileSync(path.join(dir, 'kube-flannel.yml'), FLANNEL)

    // Every image the nodes pull, under the names the profile's mirror gives them, in the registry.
    const cluster = loadCluster(profile, profileText(repos))
    const inventory = buildInventory(cluster, {cniManifest: FLANNEL})
    const refs = [...new Set(inventory.images.map((i) => i.image))]
    assert.ok(refs.includes(`${registryHost}/k8s/flannel:v0.26.7`), refs.join('\n'))
    for (const ref of refs) {
      const layout = ociLayout(ref.split('/').pop()?.split(':')[0] ?? 'x', `the ${ref} image\n`)
      run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}`, `docker://${ref}`])
    }

    const out = path.join(tmp, 'out', 'bundle')
    const state = path.join(tmp, 'state')
    const args = [
      builtCli(),
      'bundle',
      profile,
      '-o',
      out,
      '--os-mirror',
      repos.mirror,
      '--os-keyring',
      repos.keyring,
      '--insecure-registry',
      registryHost,
      '--state',
      state,
    ]
    const r = await runAsync(process.execPath, [...args, '--json'])
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`)
    const result = JSON.parse(r.stdout) as {
      sha256: string
      images: Array<{image: string; file: string; digest: string}>
      kubernetes: {packages: Array<{name: string; version: string}>}
      os: Array<{os: string; packages: Array<{name: string}>}>
    }

    // The layout of docs/airgap.md, nothing left beside it.
    assert.deepEqual(readdirSync(path.dirname(out)), ['bundle'])
    for (const f of ['Release.key', 'SHA256SUMS', 'manifest.json', 'images/images.txt', 'cni/kube-flannel.yml'])
      assert.ok(existsSync(path.join(out, f)), f)
    assert.equal(result.sha256, sha256(readFileSync(path.join(out, 'SHA256SUMS'))))
    const check = run('sha256sum', ['-c', '--strict', 'SHA256SUMS'], {cwd: out})
    assert.equal(check.stdout.trim().split('\n').length, refs.length + 5, check.stdout)
    assert.equal(readFileSync(path.join(out, 'cni/kube-flannel.yml'), 'utf8'), FLANNEL)

    // The pinned Kubernetes packages, the highest cri-tools; the OS closure without what nothing needs.
    assert.deepEqual(result.kubernetes.packages.map((p) => `${p.name}=${p.version}`).sort(), [
      'cri-tools=1.34.0-1.1',
      'kubeadm=1.34.2-1.1',
      'kubectl=1.34.2-1.1',
      'kubelet=1.34.2-1.1',
      'kubernetes-cni=1.7.1-1.1',
    ])
    const osNames = result.os[0]?.packages.map((p) => p.name).sort()
    assert.deepEqual(osNames, [
      'ca-certificates',
      'chrony',
      'conntrack',
      'containerd',
      'curl',
      'iptables',
      'libfake1',
      'openssl',
      'runc',
      'socat',
    ])

    // The signing key stays in the state directory, owner-only, and never in the output.
    const gnupg = path.join(state, 'bundle-gnupg')
    assert.equal(statSync(gnupg).mode & 0o777, 0o700)
    for (const e of readdirSync(gnupg, {recursive: true, withFileTypes: true}))
      if (e.isFile()) assert.equal(statSync(path.join(e.parentPath, e.name)).mode & 0o077, 0, e.name)
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/)

    // apt, reading only the bundle's two repositories with only the bundle's key, gets everything.
    const served = await serveDirectory(out)
    const bundleKey = path.join(tmp, 'bundle.gpg')
    run('gpg', ['--batch', '--yes', '--dearmor', '-o', bundleKey], {input: readFileSync(path.join(out, 'Release.key'))})
    const apt = path.join(tmp, 'apt')
    for (const d of ['etc/sources.list.d', 'etc/preferences.d', 'lists/partial', 'archives/partial'])
      mkdirSync(path.join(apt, d), {recursive: true})
    writeFileSync(
      path.join(apt, 'etc/sources.list'),
      `deb [signed-by=${bundleKey}] ${served.url}/kubernetes/core:/stable:/v1.34/deb/ ./\ndeb [signed-by=${bundleKey}] ${served.url}/os/debian-12/ ./\n`,
    )
    writeFileSync(path.join(apt, 'status'), '')
    const aptOpts = [
      `Dir::Etc=${apt}/etc`,
      `Dir::Etc::sourcelist=${apt}/etc/sources.list`,
      `Dir::State::lists=${apt}/lists`,
      `Dir::State::status=${apt}/status`,
      `Dir::Cache=${apt}`,
      `Dir::Cache::archives=${apt}/archives`,
      'APT::Sandbox::User=root',
      'Debug::NoLocking=true',
    ].flatMap((o) => ['-o', o])
    const update = await runAsync('apt-get', [...aptOpts, 'update'])
    assert.equal(update.status, 0, update.stderr)
    assert.doesNotMatch(update.stderr, /^(W|E):/m, 'the bundle key verifies both repositories')
    const install = await runAsync('apt-get', [
      ...aptOpts,
      'install',
      '-y',
      '--download-only',
      'kubelet=1.34.2-*',
      'kubeadm=1.34.2-*',
      'kubectl=1.34.2-*',
      'containerd',
      'chrony',
      'openssl',
      'conntrack',
      'socat',
    ])
    assert.equal(install.status, 0, `${install.stdout}\n${install.stderr}`)
    assert.ok(readdirSync(path.join(apt, 'archives')).includes('kubelet_1.34.2-1.1_amd64.deb'))

    // bundle.sh, as a worker and a control plane run it, imports every image under its name.
    containerd = await startContainerd(t, mkdtempSync(path.join(tmp, 'containerd-')), {config: containerdConfig()})
    const params = path.join(tmp, 'bootstrap.env')
    writeFileSync(params, encodeParams({BUNDLE_URL: `${served.url}/`, BUNDLE_SHA256: result.sha256}, '# a test node'))
    const imported = await runAsync('bash', [path.join(REPO_ROOT, 'assets/bootstrap/bundle.sh'), params, 'import-images'], {
      env: {...process.env, NODEGEN_ROOT: mkdtempSync(path.join(tmp, 'root-')), CONTAINERD_ADDRESS: containerd.address},
    })
    await served.close()
    assert.equal(imported.status, 0, `${imported.stdout}\n${imported.stderr}`)
    assert.match(imported.stdout, new RegExp(`bundle: ${refs.length} image\\(s\\) imported`))
    const ls = containerd.ctr(['-n', 'k8s.io', 'images', 'ls']).stdout
    for (const i of result.images) {
      const line = ls.split('\n').find((l) => l.startsWith(`${i.image} `))
      assert.ok(line, `${i.image} is in containerd under its full name:\n${ls}`)
      assert.ok(line.split(/\s+/).includes(i.digest), `${i.image} is the registry's manifest ${i.digest}: ${line}`)
    }

    // A second run replaces the bundle whole and signs with the same key.
    const again = await runAsync(process.execPath, args)
    assert.equal(again.status, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`^sha256 of SHA256SUMS \\(spec\\.airgap\\.sha256\\): ${result.sha256}$`, 'm'))
    assert.match(again.stderr, /^bundle: image /m, 'line-oriented progress when not on a terminal')
  })

  it('refuses a RHEL-family profile with NG1106 before downloading anything, leaving no output', async (t) => {
    requireTool(t, 'gpg')
    const dir = mkdtempSync(path.join(tmp, 'el-'))
    const profile = path.join(dir, 'el.yaml')
    writeFileSync(
      profile,
      `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: el}
spec:
  kubernetes: {version: 1.34.2, imageRepository: mirror.invalid/k8s}
  os: almalinux-9
  networking: {cni: {type: flannel}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
`,
    )
    const r = await runAsync(process.execPath, [
      builtCli(),
      'bundle',
      profile,
      '-o',
      path.join(dir, 'out'),
      '--os-mirror',
      'http://127.0.0.1:9/',
    ])
    assert.equal(r.status, 1, r.stderr)
    assert.match(r.stderr, /NG1106: almalinux-9 is of the RHEL family/)
    assert.deepEqual(readdirSync(dir), ['el.yaml'])
  })
})

/** nodegen's containerd config.toml for a Debian node (the CRI plugin on). */
function containerdConfig(): string {
  const cluster = loadCluster(
    path.join(tmp, 'cfg.yaml'),
    `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: cfg}
spec:
  kubernetes: {version: 1.34.2, imageRepository: mirror.lan/k8s}
  os: debian-12
  networking: {cni: {type: flannel, manifestUrl: http://10.30.0.1/kube-flannel.yml}}
  containerRuntime: {type: containerd, source: distribution}
  airgap: {bundle: http://10.30.0.1/bundle/}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
`,
  )
  const node = cluster.nodes[0]
  assert.ok(node)
  const f = buildOsFiles(cluster, node).find((x) => x.path === '/etc/containerd/config.toml')
  assert.ok(f)
  return f.content
}
