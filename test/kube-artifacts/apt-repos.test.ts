/**
 * The local apt repositories of scripts/build-kube-debs.sh, judged by apt and dpkg in a Debian 12
 * root: a copy of a debootstrap --variant=minbase bookworm whose only sources are the local Debian
 * repository and the Kubernetes repository, served on 127.0.0.1 and reached through the very
 * /etc/apt/sources.list.d/kubernetes.list nodegen renders for spec.kubernetes.packageRepository.
 * nodegen's own install-packages.sh, with the bootstrap.env nodegen renders for a control plane
 * (keepalived and HAProxy, firewalld, containerd from the distribution), installs everything
 * offline, and the installed commands are the real ones of the release.
 */
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it, type TestContext} from 'node:test'
import {NODEGEN_LIB, PARAMS_FILE} from '../../src/plan/types.js'
import {buildArtifacts} from '../support/kube-artifacts.js'
import {REPO_ROOT} from '../support/profiles.js'
import {renderProfile} from '../support/render.js'
import {requireTool, run, SkipSignal} from '../support/tools.js'

const VERSION = '1.34.2'
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-apt-'))
const mounted: string[] = []
let server: ChildProcess | undefined
after(() => {
  server?.kill()
  for (const m of mounted.reverse()) run('umount', ['-l', m], {allowFail: true})
  rmSync(tmp, {recursive: true, force: true})
})

/**
 * A static file server for DIR on 127.0.0.1 (apt and curl fetch over plain HTTP, as from a mirror),
 * in its own process: the test runs the chroot synchronously, which would stall a server here.
 */
const SERVER = `
const http = require('node:http'), fs = require('node:fs'), path = require('node:path')
const dir = process.argv[1]
const srv = http.createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url || '/', 'http://x').pathname)
  const file = path.join(dir, path.normalize(rel))
  if (!file.startsWith(dir)) return void res.writeHead(403).end()
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) return void res.writeHead(404).end()
    res.writeHead(200, {'content-length': st.size})
    if (req.method === 'HEAD') return void res.end()
    fs.createReadStream(file).pipe(res)
  })
})
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port))
`

async function serve(dir: string): Promise<string> {
  const child = spawn(process.execPath, ['-e', SERVER, dir], {stdio: ['ignore', 'pipe', 'inherit']})
  server = child
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))
    child.once('exit', (code) => reject(new Error(`the repository server exited ${code}`)))
  })
  return `http://127.0.0.1:${port}`
}

function profile(repo: string): string {
  const file = path.join(tmp, 'profile', 'apt-local.yaml')
  mkdirSync(path.dirname(file), {recursive: true})
  writeFileSync(
    file,
    `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata:
  name: apt-local
spec:
  kubernetes:
    version: ${VERSION}
    packageRepository: ${repo}/kubernetes
  os: debian-12
  controlPlaneEndpoint:
    host: 10.20.0.100
    port: 6443
  loadBalancer:
    type: keepalived-haproxy
    virtualRouterId: 51
  networking:
    cni:
      type: flannel
    gateway: 10.20.0.1
    dnsServers: [10.20.0.1]
  containerRuntime:
    type: containerd
    source: distribution
  firewall: open-ports
  nodes:
    - {name: cp-1, role: control-plane, ip: 10.20.0.10/24}
    - {name: cp-2, role: control-plane, ip: 10.20.0.11/24}
    - {name: cp-3, role: control-plane, ip: 10.20.0.12/24}
    - {name: worker-1, role: worker, ip: 10.20.0.20/24}
`,
  )
  return file
}

type Chroot = (argv: string[], allowFail?: boolean) => ReturnType<typeof run>

/**
 * A fresh copy of the minbase root holding what nodegen's seed places on control plane cp-1 for the
 * package phase (kubernetes.list, bootstrap.env, install-packages.sh) and, standing in for the
 * node's Debian mirror, the local Debian repository with its keyring. With kubernetesKey, the
 * Kubernetes repository's key is in place too, as a seed that shipped it would leave it.
 */
async function prepareRoot(t: TestContext, name: string, kubernetesKey: boolean): Promise<{root: string; chroot: Chroot}> {
  requireTool(t, 'chroot')
  requireTool(t, 'debootstrap')
  requireTool(t, 'apt-ftparchive')
  requireTool(t, 'gpg')
  if (process.getuid?.() !== 0) {
    if (process.env.CI) throw new Error('the apt repository test runs as root (chroot); under CI=true that is a failure')
    t.skip('needs root (chroot)')
    throw new SkipSignal('needs root')
  }
  repos ??= buildArtifacts(t, 'build-kube-debs.sh')
  base ??= await serve(repos)
  const minbase = path.join(path.dirname(repos), 'debian-bookworm', 'minbase')
  const rendered = await renderProfile(profile(base))
  const node = rendered.nodes.find((n) => n.plan.node === 'cp-1')
  assert.ok(node, 'cp-1 rendered')
  const placed = (p: string) => {
    const f = node.plan.files.find((x) => x.path === p)
    assert.ok(f, `nodegen places ${p} on cp-1`)
    return f
  }
  const list = placed('/etc/apt/sources.list.d/kubernetes.list')
  assert.match(list.content, new RegExp(`${base}/kubernetes/core:/stable:/v1\\.34/deb/ /`))

  const root = path.join(tmp, name)
  const t0 = Date.now()
  run('cp', ['-a', minbase, root])
  t.diagnostic(`copied the minbase root in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  // A chroot keeps maintainer scripts from starting daemons, as debootstrap and image builds do.
  writeFileSync(path.join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', {mode: 0o755})
  writeFileSync(path.join(root, 'etc/apt/sources.list'), '')
  mkdirSync(path.join(root, 'etc/apt/keyrings'), {recursive: true})
  cpSync(path.join(repos, 'debian', 'Release.key'), path.join(root, 'etc/apt/keyrings/nodegen-debian.asc'))
  writeFileSync(
    path.join(root, 'etc/apt/sources.list.d/debian-local.list'),
    `deb [signed-by=/etc/apt/keyrings/nodegen-debian.asc] ${base}/debian/ ./\n`,
  )
  if (kubernetesKey)
    cpSync(
      path.join(repos, 'kubernetes', 'core:', 'stable:', 'v1.34', 'deb', 'Release.key'),
      path.join(root, 'etc/apt/keyrings/kubernetes-apt-keyring.asc'),
    )
  for (const f of [list, placed(PARAMS_FILE), placed(`${NODEGEN_LIB}/install-packages.sh`)]) {
    mkdirSync(path.join(root, path.dirname(f.path)), {recursive: true})
    writeFileSync(path.join(root, f.path), f.content, {mode: f.mode})
  }
  for (const m of ['proc', 'dev', 'sys']) {
    run('mount', ['--bind', `/${m}`, path.join(root, m)])
    mounted.push(path.join(root, m))
  }
  const chroot: Chroot = (argv, allowFail = false) =>
    run('chroot', [root, ...argv], {
      allowFail,
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        LANG: 'C.UTF-8',
        HOME: '/root',
        DEBIAN_FRONTEND: 'noninteractive',
      },
    })
  return {root, chroot}
}

let repos: string | undefined
let base: string | undefined

describe('local apt repositories, installed from by nodegen install-packages.sh', {timeout: 90 * 60_000}, () => {
  // A fresh node: the seed has written kubernetes.list (signed-by a key that is not there yet) and
  // the image has no curl. apt refuses a source whose key is missing, so the program must refresh
  // the other sources first, install curl, fetch the key, and only then read kubernetes.list.
  it('installs with only the files nodegen places (kubernetes.list before its key, no curl)', async (t) => {
    const {chroot} = await prepareRoot(t, 'as-placed', false)
    assert.notEqual(chroot(['sh', '-c', 'command -v curl'], true).status, 0, 'the minbase root has no curl')
    const r = chroot(['bash', `${NODEGEN_LIB}/install-packages.sh`, PARAMS_FILE], true)
    assert.equal(r.status, 0, `install-packages.sh failed:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`)
    assert.equal(chroot(['kubeadm', 'version', '-o', 'short']).stdout.trim(), `v${VERSION}`)
  })

  it('installs containerd, kubeadm, kubelet and kubectl of the release offline (key in place)', async (t) => {
    const {root, chroot} = await prepareRoot(t, 'with-key', true)
    const t1 = Date.now()
    const r = chroot(['bash', `${NODEGEN_LIB}/install-packages.sh`, PARAMS_FILE], true)
    assert.equal(r.status, 0, `install-packages.sh failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`)
    t.diagnostic(`install-packages.sh: ${((Date.now() - t1) / 1000).toFixed(1)} s; ${r.stdout.trim().split('\n').pop()}`)

    assert.equal(chroot(['kubeadm', 'version', '-o', 'short']).stdout.trim(), `v${VERSION}`)
    assert.match(chroot(['kubelet', '--version']).stdout, new RegExp(`Kubernetes v${VERSION.replaceAll('.', '\\.')}`))
    assert.match(chroot(['kubectl', 'version', '--client']).stdout, new RegExp(`Client Version: v${VERSION.replaceAll('.', '\\.')}`))
    // kubeadm 1.32 and newer no longer depend on cri-tools (pkgs.k8s.io's metadata.yaml): it is
    // installed on its own, from the same repository.
    // install-packages.sh installs firewalld on the RHEL family only; the Debian repository holds it
    // (with its dependencies) for a node whose firewall is firewalld.
    chroot(['apt-get', 'install', '-y', '-qq', 'cri-tools', 'firewalld', 'ebtables', 'ethtool'])
    assert.match(chroot(['crictl', '--version']).stdout, /crictl version v1\.34\.0/)
    assert.match(chroot(['containerd', '--version']).stdout, /containerd/)
    for (const p of ['haproxy', 'keepalived', 'firewall-cmd', 'conntrack', 'socat', 'iptables', 'ebtables', 'ethtool', 'runc']) {
      assert.equal(chroot(['sh', '-c', `command -v ${p}`], true).status, 0, `${p} is installed`)
    }
    const policy = chroot(['apt-cache', 'policy', 'kubeadm']).stdout
    assert.match(policy, new RegExp(`Installed: ${VERSION.replaceAll('.', '\\.')}-1\\.1`), policy)
    assert.match(chroot(['apt-mark', 'showhold']).stdout, /kubeadm/)
    for (const [pkg, file] of [
      ['kubelet', '/usr/lib/systemd/system/kubelet.service'],
      ['kubeadm', '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf'],
      ['kubernetes-cni', '/opt/cni/bin/bridge'],
    ] as const) {
      assert.match(chroot(['dpkg', '-S', file]).stdout, new RegExp(`^${pkg}: `), `${file} belongs to ${pkg}`)
    }
    const dropIn = readFileSync(path.join(root, 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf'), 'utf8')
    assert.match(dropIn, /EnvironmentFile=-\/etc\/default\/kubelet/)
    assert.ok(
      readFileSync(path.join(REPO_ROOT, 'test/fixtures/kubernetes-release/kubelet.service'), 'utf8') ===
        readFileSync(path.join(root, 'usr/lib/systemd/system/kubelet.service'), 'utf8'),
    )
  })
})
