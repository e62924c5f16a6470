/**
 * bake.sh for an air-gapped profile, run in a temporary root: the bundle is read where the build VM
 * reaches it (Packer's HTTP server, PACKER_HTTP_ADDR, when the build serves qemu_bundle_directory),
 * while the image keeps the profile's URLs; the images step imports the bundle's archives with the
 * node's own bundle.sh (real curl against a server of this process, every file checked against
 * SHA256SUMS) and the marker records which bundle, so first boot needs no bundle. install-packages.sh
 * is replaced by a probe that records its parameters and the lists it would read (the real one
 * writes the host's /etc; test/bake runs it for real in the build VM), ctr by a stand-in.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {loadImageAssets} from '../../../src/app/image.js'
import {CURRENT_FEATURES, generateImageTree} from '../../../src/image/index.js'
import {standinBin, uploadImageTree} from '../../support/bootstrap-harness.js'
import {loadCluster} from '../../support/profiles.js'
import {requireTool, runAsync} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-bake-bundle-'))
const www = path.join(tmp, 'www')
const requests: string[] = []
let server: Server | undefined
let addr = ''
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
const IMAGES = ['registry.k8s.io/kube-apiserver:v1.34.2', 'registry.k8s.io/pause:3.10.1', 'ghcr.io/flannel-io/flannel:v0.26.7']
/** The profile's bundle URL: nothing listens there, so reading it would fail the bake. */
const PROFILE_BUNDLE = 'http://127.0.0.1:9/'

before(async () => {
  // A bundle in docs/airgap.md's layout; an "archive" holds the reference the ctr stand-in imports.
  const files: Record<string, string> = {
    'Release.key': 'bundle key\n',
    'kubernetes/core:/stable:/v1.34/deb/Release.key': 'kubernetes key\n',
    'images/images.txt': `# images\n${IMAGES.map((ref, i) => `${ref} image-${i}.tar`).join('\n')}\n`,
  }
  IMAGES.forEach((ref, i) => {
    files[`images/image-${i}.tar`] = `${ref}\n`
  })
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(www, rel)), {recursive: true})
    writeFileSync(path.join(www, rel), content)
  }
  const sums = Object.entries(files)
    .map(([rel, content]) => `${sha256(content)}  ${rel}\n`)
    .join('')
  writeFileSync(path.join(www, 'SHA256SUMS'), sums)
  server = createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/')
    requests.push(url)
    const file = path.join(www, url)
    if (!file.startsWith(`${www}/`) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200).end(readFileSync(file))
  })
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r))
  addr = `127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(async () => {
  await new Promise((r) => server?.close(r))
  rmSync(tmp, {recursive: true, force: true})
})

const profile = (pin: string) => `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: bake-bundle}
spec:
  kubernetes: {version: 1.34.2}
  os: debian-12
  controlPlaneEndpoint: {host: 10.0.0.100, port: 6443}
  networking: {cni: {type: flannel, manifestFile: flannel.yaml}, gateway: 10.0.0.1}
  containerRuntime: {type: containerd, source: distribution}
  image: {baked: true}
  airgap: {bundle: "${PROFILE_BUNDLE}", sha256: ${pin}}
  nodes:
    - {name: cp0, role: control-plane, ip: 10.0.0.10/24}
`

/** install-packages.sh's stand-in: its parameters and the bundle's lists as they are when it runs. */
const PROBE = `#!/usr/bin/env bash
set -eu
cp "$1" "$NODEGEN_ROOT/probe-params.env"
cat "$NODEGEN_ROOT"/etc/apt/sources.list.d/*.list >"$NODEGEN_ROOT/probe-lists.txt"
# What the real one does on an air-gapped node: a key through bundle.sh, the lists copied for apt.
"$(dirname "$0")/bundle.sh" "$1" fetch Release.key "$NODEGEN_ROOT/probe-bundle.asc"
mkdir -p "$NODEGEN_ROOT/etc/nodegen/apt-sources.list.d"
cp "$NODEGEN_ROOT"/etc/apt/sources.list.d/*.list "$NODEGEN_ROOT/etc/nodegen/apt-sources.list.d/"
echo "install-packages: probe"
`

/** ctr's stand-in: an image store in a file; an archive "holds" the reference written in it. */
const CTR = `#!/usr/bin/env bash
store="$NODEGEN_ROOT/ctr-images"
touch "$store"
case "$3 $4" in
  "images ls") cat "$store" ;;
  "images import") head -n 1 "\${@: -1}" >>"$store" ;;
  *) echo "ctr stand-in: $*" >&2; exit 2 ;;
esac
`

describe('bake.sh for an air-gapped profile', () => {
  it('installs and imports from the bundle Packer serves; the image keeps the profile URLs and records the bundle', async (t) => {
    requireTool(t, 'curl')
    const pin = sha256(readFileSync(path.join(www, 'SHA256SUMS')))
    const dir = path.join(tmp, 'bake')
    const cluster = loadCluster(path.join(dir, 'bake-bundle.yaml'), profile(pin))
    const tree = generateImageTree(cluster, 'debian-12', {
      features: CURRENT_FEATURES,
      assets: loadImageAssets(),
      cniManifest: 'kind: List\n',
    })
    const work = path.join(dir, 'nodegen-image')
    uploadImageTree(tree, work)
    assert.ok(tree.has('scripts/bundle.sh'), 'an air-gapped image ships the bundle client')
    writeFileSync(path.join(work, 'scripts/install-packages.sh'), PROBE)
    const root = path.join(dir, 'root')
    mkdirSync(path.join(root, 'etc'), {recursive: true})
    const bin = standinBin(dir)
    writeFileSync(path.join(bin, 'ctr'), CTR)
    chmodSync(path.join(bin, 'ctr'), 0o755)
    const env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      NODEGEN_ROOT: root,
      NODEGEN_TEST_LOG: path.join(dir, 'calls.log'),
      NODEGEN_BUNDLE_SERVED: '1',
      PACKER_HTTP_ADDR: addr,
      SUDO_USER: '',
    }
    const outputs: Record<string, string> = {}
    for (const step of ['files', 'packages', 'images', 'marker']) {
      // Asynchronously: the bundle's server runs in this process.
      const r = await runAsync('bash', [path.join(work, 'scripts/bake.sh'), step, work], {env})
      assert.equal(r.status, 0, `bake ${step}: ${r.stdout}${r.stderr}`)
      outputs[step] = r.stdout
    }

    // The install ran against the served bundle...
    assert.match(outputs.packages ?? '', new RegExp(`installing from the air-gap bundle at http://${addr}/`))
    const params = readFileSync(path.join(root, 'probe-params.env'), 'utf8')
    assert.match(params, new RegExp(`^BUNDLE_URL=http://${addr}/$`, 'm'))
    assert.match(params, new RegExp(`^KUBERNETES_REPO=http://${addr}/kubernetes/core:/stable:/v1\\.34/deb/$`, 'm'))
    assert.match(params, new RegExp(`^BUNDLE_SHA256=${pin}$`, 'm'))
    const during = readFileSync(path.join(root, 'probe-lists.txt'), 'utf8')
    assert.ok(!during.includes(PROFILE_BUNDLE), `apt would read the profile's bundle during the bake:\n${during}`)
    assert.match(during, new RegExp(`http://${addr}/os/debian-12/ \\./`))
    assert.equal(readFileSync(path.join(root, 'probe-bundle.asc'), 'utf8'), 'bundle key\n')
    // ...and the image keeps the profile's lists, the apt copies included.
    for (const list of ['kubernetes.list', 'nodegen-bundle.list']) {
      const placed = readFileSync(path.join(work, 'files/etc/apt/sources.list.d', list), 'utf8')
      assert.equal(readFileSync(path.join(root, 'etc/apt/sources.list.d', list), 'utf8'), placed)
      assert.equal(readFileSync(path.join(root, 'etc/nodegen/apt-sources.list.d', list), 'utf8'), placed)
      assert.ok(placed.includes(PROFILE_BUNDLE))
    }

    // Every image of the bundle imported, each archive checked; none pulled from a registry.
    assert.deepEqual(readFileSync(path.join(root, 'ctr-images'), 'utf8').trim().split('\n'), IMAGES)
    for (let i = 0; i < IMAGES.length; i++) assert.ok(requests.includes(`/images/image-${i}.tar`))
    const calls = readFileSync(path.join(dir, 'calls.log'), 'utf8')
    assert.doesNotMatch(calls, /kubeadm config images pull|crictl/)

    const marker = JSON.parse(readFileSync(path.join(root, 'etc/nodegen/image.json'), 'utf8'))
    assert.equal(marker.bundleSha256, pin, 'the marker names the bundle the images came from')
    assert.deepEqual(marker.phases, ['packages', 'images'])
    assert.deepEqual(marker.images, [...IMAGES].sort())
  })

  it('refuses a served bundle without Packer’s HTTP address (a builder other than qemu)', async (t) => {
    requireTool(t, 'curl')
    const dir = path.join(tmp, 'no-addr')
    const cluster = loadCluster(path.join(dir, 'bake-bundle.yaml'), profile('a'.repeat(64)))
    const tree = generateImageTree(cluster, 'debian-12', {
      features: CURRENT_FEATURES,
      assets: loadImageAssets(),
      cniManifest: 'kind: List\n',
    })
    const work = path.join(dir, 'nodegen-image')
    uploadImageTree(tree, work)
    const root = path.join(dir, 'root')
    mkdirSync(root, {recursive: true})
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${standinBin(dir)}:${process.env.PATH}`,
      NODEGEN_ROOT: root,
      NODEGEN_BUNDLE_SERVED: '1',
    }
    delete env.PACKER_HTTP_ADDR
    const r = await runAsync('bash', [path.join(work, 'scripts/bake.sh'), 'packages', work], {
      env: {...env, NODEGEN_TEST_LOG: path.join(dir, 'calls.log')},
    })
    assert.equal(r.status, 1)
    assert.match(r.stderr, /qemu_bundle_directory is for the qemu builder/)
  })
})
