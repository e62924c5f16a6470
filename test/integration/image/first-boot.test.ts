/**
 * A baked image and its first boot, run for real in temporary roots (the bootstrap harness): the
 * bake steps Packer runs (files, packages, images, marker, cleanup) against recording stand-ins,
 * then the node's rendered plan on top and the bootstrap program, which skips what the marker says
 * is done and refuses an image of another version or OS. And a rendered node for a baked image
 * carries no package installation step at all.
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {parse} from 'yaml'
import {loadAssets} from '../../../src/app/assets.js'
import {loadImageAssets} from '../../../src/app/image.js'
import {renderNode} from '../../../src/app/render.js'
import {CURRENT_FEATURES, generateImageTree} from '../../../src/image/index.js'
import {buildNodePlan, type ClusterMaterial} from '../../../src/plan/build.js'
import type {Cluster} from '../../../src/profile/index.js'
import {
  FakeCluster,
  makeTestCa,
  materialise,
  readCallLog,
  runBootstrap,
  standinBin,
  type TestCa,
  uploadImageTree,
} from '../../support/bootstrap-harness.js'
import {loadCluster, PROFILES_DIR, profileText} from '../../support/profiles.js'
import {cloudInit} from '../../support/render.js'
import {requireTool} from '../../support/tools.js'

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

const profile = (port: number, baked = true) => `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: baked}
spec:
  kubernetes: {version: 1.34.2}
  os: almalinux-9
  controlPlaneEndpoint: {host: 127.0.0.100, port: ${port}}
  loadBalancer: {type: keepalived-haproxy, apiServerPort: ${port}}
  image: {baked: ${baked}}
  bootstrap: {timeout: 30s}
  networking: {cni: {type: flannel, manifestFile: flannel.yaml}}
  nodes:
    - {name: cp0, role: control-plane, ip: 127.0.0.110/24}
`
const CNI =
  'kind: DaemonSet\nspec:\n  template:\n    spec:\n      containers:\n        - name: kube-flannel\n          image: ghcr.io/flannel-io/flannel:v0.26.4\n'
const KUBEADM_IMAGES = [
  'registry.k8s.io/kube-apiserver:v1.34.2',
  'registry.k8s.io/kube-controller-manager:v1.34.2',
  'registry.k8s.io/kube-scheduler:v1.34.2',
  'registry.k8s.io/kube-proxy:v1.34.2',
  'registry.k8s.io/coredns/coredns:v1.12.1',
  'registry.k8s.io/pause:3.10.1',
  'registry.k8s.io/etcd:3.6.5-0',
]

function material(ca: TestCa): ClusterMaterial {
  return {
    caCert: ca.caCert,
    caCertHash: `sha256:${'0'.repeat(64)}`,
    token: 'abcdef.0123456789abcdef',
    tokenTtlSeconds: 86400,
    pkiFiles: () => [],
  }
}

describe('a baked image and its first boot', () => {
  let ca: TestCa
  let tmp: string
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-baked-'))
  })
  after(() => {
    rmSync(tmp, {recursive: true, force: true})
    if (ca) rmSync(ca.dir, {recursive: true, force: true})
  })

  /** Bakes an image root for cp0 the way the Packer provisioners do; returns the root and the call log. */
  async function bake(name: string) {
    const dir = path.join(tmp, name)
    const port = await freePort('127.0.0.100')
    const cluster: Cluster = loadCluster(path.join(dir, 'baked.yaml'), profile(port))
    const root = path.join(dir, 'cp0')
    mkdirSync(path.join(root, 'etc/ssh'), {recursive: true})
    writeFileSync(path.join(root, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n')
    writeFileSync(path.join(root, 'etc/ssh/ssh_host_ed25519_key'), 'secret\n')
    mkdirSync(path.join(root, 'var/lib/cloud/instances/build'), {recursive: true})
    // The build directory as Packer uploads it to /tmp/nodegen-image (modes are not kept).
    const work = path.join(dir, 'nodegen-image')
    const tree = generateImageTree(cluster, 'almalinux-9', {features: CURRENT_FEATURES, assets: loadImageAssets(), cniManifest: CNI})
    uploadImageTree(tree, work)
    const bin = standinBin(dir)
    const standin = path.join(bin, 'kubectl')
    cpSync(standin, path.join(bin, 'crictl'))
    // kubeadm lists the images of its version; everything else goes to the recording stand-in.
    mkdirSync(path.join(bin, 'real'))
    cpSync(path.join(bin, 'kubeadm'), path.join(bin, 'real', 'kubeadm'))
    writeFileSync(
      path.join(bin, 'kubeadm'),
      `#!/usr/bin/env bash\n"$(dirname "$0")/real/kubeadm" "$@" || exit\nif [ "$1 $2 $3" = "config images list" ]; then printf '%s\\n' ${KUBEADM_IMAGES.join(' ')}; fi\n`,
    )
    chmodSync(path.join(bin, 'kubeadm'), 0o755)
    const log = path.join(dir, 'calls.log')
    const env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      NODEGEN_ROOT: root,
      NODEGEN_TEST_LOG: log,
      SUDO_USER: '',
      NODEGEN_POLICY_RC: path.join(root, 'policy-rc.d'),
    }
    const outputs: string[] = []
    for (const step of ['files', 'packages', 'images', 'marker', 'cleanup']) {
      const r = spawnSync('bash', [path.join(work, 'scripts/bake.sh'), step, work], {env, encoding: 'utf8'})
      assert.equal(r.status, 0, `bake ${step}: ${r.stdout}${r.stderr}`)
      assert.match(r.stdout, new RegExp(`^nodegen-image: step ${step}$`, 'm'), 'the line the runner shows progress by')
      outputs.push(r.stdout)
    }
    return {dir, root, cluster, port, log, work, outputs}
  }

  it('bakes: preparation files with their modes, pinned packages, pre-pulled images, the marker, a clean clone', async (t) => {
    requireTool(t, 'curl')
    const b = await bake('bake')
    const calls = readCallLog(b.log).map((c) => c.call)
    assert.ok(calls.includes('dnf -y install --disableexcludes=kubernetes kubelet-1.34.2 kubeadm-1.34.2 kubectl-1.34.2'), calls.join('\n'))
    assert.ok(
      calls.some((c) => /^dnf -y install --disableexcludes=docker-ce-stable containerd\.io-2\.0\.11 .*keepalived haproxy/.test(c)),
      `the pinned containerd and the endpoint packages are baked:\n${calls.join('\n')}`,
    )
    assert.ok(calls.includes('systemctl disable --now haproxy'), 'and left disabled for workers')
    assert.ok(
      calls.includes(
        'kubeadm config images pull --kubernetes-version v1.34.2 --image-repository registry.k8s.io --cri-socket unix:///run/containerd/containerd.sock',
      ),
    )
    assert.ok(calls.includes('crictl --runtime-endpoint unix:///run/containerd/containerd.sock pull ghcr.io/flannel-io/flannel:v0.26.4'))
    assert.ok(!calls.some((c) => c.startsWith('crictl') && c.includes('registry.k8s.io/')), 'kubeadm pulled its own images')
    const repo = path.join(b.root, 'etc/yum.repos.d/kubernetes.repo')
    assert.match(readFileSync(repo, 'utf8'), /^exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni$/m)
    assert.match(readFileSync(path.join(b.root, 'etc/containerd/config.toml'), 'utf8'), /SystemdCgroup = true/)
    const marker = JSON.parse(readFileSync(path.join(b.root, 'etc/nodegen/image.json'), 'utf8'))
    assert.equal(marker.schema, 1)
    assert.equal(marker.os, 'almalinux-9')
    assert.equal(marker.kubernetesVersion, '1.34.2')
    assert.equal(marker.containerRuntime, 'containerd')
    assert.equal(marker.containerdVersion, '2.0.11', 'the baked containerd release, which first boot checks')
    assert.equal(marker.imageRepository, 'registry.k8s.io')
    assert.deepEqual(marker.phases, ['packages', 'images'])
    assert.deepEqual(marker.images, [...KUBEADM_IMAGES, 'ghcr.io/flannel-io/flannel:v0.26.4'].sort())
    assert.match(marker.built, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    // cleaned for cloning
    assert.equal(readFileSync(path.join(b.root, 'etc/machine-id'), 'utf8'), '')
    assert.equal(existsSync(path.join(b.root, 'etc/ssh/ssh_host_ed25519_key')), false)
    assert.equal(existsSync(path.join(b.root, 'var/lib/cloud/instances')), false)
    assert.equal(existsSync(b.work), false, 'the build files are gone')
  })

  it('first boot skips the packages and the image pull the marker lists, and comes up', async (t) => {
    requireTool(t, 'openssl')
    requireTool(t, 'curl')
    ca = makeTestCa(['127.0.0.1', '127.0.0.100', '127.0.0.110'])
    const b = await bake('boot')
    writeFileSync(path.join(b.dir, 'flannel.yaml'), CNI)
    const plan = buildNodePlan(b.cluster, b.cluster.nodes[0]!, {assets: loadAssets(), material: material(ca), cniManifest: CNI})
    materialise(plan, b.dir)
    const fake = new FakeCluster(ca)
    await fake.listen('127.0.0.100', b.port)
    try {
      const boot = readCallLog(b.log).length
      const bin = path.join(b.dir, 'bin')
      const r = await runBootstrap(b.root, {
        PATH: `${bin}:${process.env.PATH}`,
        NODEGEN_TEST_LOG: b.log,
        NODEGEN_TEST_FAKE: `https://127.0.0.100:${b.port}`,
        NODEGEN_POLL_INTERVAL: '0.2',
        NODEGEN_BACKOFF_START: '1',
        NODEGEN_BACKOFF_MAX: '1',
      })
      assert.equal(r.code, 0, r.output)
      assert.match(r.output, /packages present, installation skipped/)
      assert.match(r.output, /images of Kubernetes 1\.34\.2 from registry\.k8s\.io are pre-pulled, pull skipped/)
      assert.match(r.output, /nodegen: cp0 control-plane ready/)
      const calls = readCallLog(b.log)
        .slice(boot)
        .map((c) => c.call)
      assert.deepEqual(
        calls.filter((c) => /^(dnf|apt-get|apt-mark|crictl)\b|kubeadm config images/.test(c)),
        [],
        'no package installation and no image pull on first boot',
      )
      assert.ok(calls.some((c) => c.startsWith('kubeadm init')))
    } finally {
      await fake.close()
    }
  })

  it('refuses an image of another Kubernetes version or another OS, and pulls from another repository', async (t) => {
    requireTool(t, 'openssl')
    const b = await bake('refuse')
    ca ??= makeTestCa(['127.0.0.1', '127.0.0.100', '127.0.0.110'])
    const plan = buildNodePlan(b.cluster, b.cluster.nodes[0]!, {assets: loadAssets(), material: material(ca), cniManifest: CNI})
    const markerFile = path.join(b.root, 'etc/nodegen/image.json')
    const baked = readFileSync(markerFile, 'utf8')
    const env = {PATH: `${path.join(b.dir, 'bin')}:${process.env.PATH}`, NODEGEN_TEST_LOG: b.log, NODEGEN_TEST_FAKE: 'https://127.0.0.1:1'}
    const again = async (marker: string) => {
      rmSync(path.join(b.root, 'var/lib/nodegen'), {recursive: true, force: true})
      materialise(plan, b.dir)
      writeFileSync(markerFile, marker)
      return runBootstrap(b.root, env, 20_000)
    }
    const version = await again(baked.replace('"kubernetesVersion": "1.34.2"', '"kubernetesVersion": "1.33.4"'))
    assert.equal(version.code, 1)
    assert.match(
      version.output,
      /failed at packages: this image was baked for Kubernetes 1\.33\.4 but the profile asks for 1\.34\.2: rebuild the image \(nodegen image build\) or set spec\.kubernetes\.version to 1\.33\.4/,
    )
    const other = await again(baked.replace('"os": "almalinux-9"', '"os": "debian-12"'))
    assert.equal(other.code, 1)
    assert.match(other.output, /failed at packages: this image was baked for debian-12 but the profile says this node runs almalinux-9/)
    const status = JSON.parse(readFileSync(path.join(b.root, 'var/lib/nodegen/status.json'), 'utf8'))
    assert.equal(status.state, 'failed')
    assert.equal(status.phase, 'packages')

    // Images pre-pulled from another repository do not count: the control plane pulls its own.
    const start = readCallLog(b.log).length
    const mirror = await again(baked.replace('"imageRepository": "registry.k8s.io"', '"imageRepository": "mirror.example/k8s"'))
    assert.doesNotMatch(mirror.output, /pull skipped/)
    assert.ok(
      readCallLog(b.log)
        .slice(start)
        .some((c) => c.call.startsWith('kubeadm config images pull --config')),
    )
  })
})

describe('a rendered node for a baked image', () => {
  it('contains no package installation step; the same node unbaked does', () => {
    const text = profileText('quickstart.yaml')
    const file = path.join(PROFILES_DIR, 'quickstart.yaml')
    const m: ClusterMaterial = {
      caCert: 'CA\n',
      caCertHash: `sha256:${'0'.repeat(64)}`,
      token: 'abcdef.0123456789abcdef',
      tokenTtlSeconds: 86400,
      pkiFiles: () => [],
    }
    for (const os of ['almalinux-9', 'debian-12', 'centos-stream-9']) {
      const withOs = text.replace(/^ {2}os: .*$/m, `  os: ${os}`)
      const baked = loadCluster(file, withOs.replace(/^spec:\n/m, 'spec:\n  image: {baked: true}\n'))
      const plain = loadCluster(file, withOs)
      for (const node of baked.nodes) {
        const r = renderNode(baked, node, m, undefined)
        const {plan} = r
        const ci = cloudInit(r)
        const paths = plan.files.map((f) => f.path)
        assert.ok(!paths.some((p) => p.endsWith('/install-packages.sh')), `${os} ${node.name}: install-packages.sh`)
        assert.ok(!paths.some((p) => /yum\.repos\.d|sources\.list\.d/.test(p)), `${os} ${node.name}: repositories`)
        const doc = parse(ci.userData.toString('utf8')) as Record<string, unknown>
        for (const key of ['packages', 'package_update', 'package_upgrade', 'yum_repos', 'apt']) assert.equal(doc[key], undefined, key)
        for (const cmd of doc.runcmd as string[][]) assert.doesNotMatch(cmd.join(' '), /\b(dnf|yum|apt-get|apt|rpm|dpkg)\b/)
        const unbaked = renderNode(plain, plain.nodes.find((n) => n.name === node.name)!, m, undefined).plan
        assert.ok(
          unbaked.files.some((f) => f.path.endsWith('/install-packages.sh')),
          `${os}: first-boot install is there without a baked image`,
        )
      }
    }
  })
})
