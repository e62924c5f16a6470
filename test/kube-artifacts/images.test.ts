/**
 * The image archives of scripts/build-kube-images.sh, judged by containerd itself: Debian's
 * containerd, started on a private socket, root and state, imports every archive into the k8s.io
 * namespace (where the kubelet's CRI looks) under exactly the names the real kubeadm 1.34.2 lists
 * and flannel's manifest names, and runs the images' binaries with runc.
 */
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it, type TestContext} from 'node:test'
import {buildArtifacts} from '../support/kube-artifacts.js'
import {requireKubeCommand} from '../support/kubernetes.js'
import {requireTool, run} from '../support/tools.js'

const VERSION = '1.34.2'
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-ctr-'))
let containerd: ChildProcess | undefined
after(async () => {
  if (containerd && containerd.exitCode === null) {
    const exited = new Promise((r) => containerd?.once('exit', r))
    containerd.kill('SIGTERM')
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))])
  }
  // The snapshots containerd mounted are gone once it stops; a leftover mount would keep rm from
  // deleting them, so unmount whatever remains under the scratch directory first.
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(tmp))
    .sort()
    .reverse()
  for (const m of mounts) run('umount', ['-l', m], {allowFail: true})
  rmSync(tmp, {recursive: true, force: true})
})

async function startContainerd(t: TestContext, bin: string): Promise<string> {
  const sock = path.join(tmp, 'containerd.sock')
  const config = path.join(tmp, 'config.toml')
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${tmp}/root"`,
      `state = "${tmp}/state"`,
      // The CRI plugin would look for CNI configuration and a kubelet; the images need only the store.
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${sock}"`,
      '[ttrpc]',
      `  address = "${sock}.ttrpc"`,
      '[debug]',
      `  address = "${tmp}/debug.sock"`,
      '',
    ].join('\n'),
  )
  const log: string[] = []
  containerd = spawn(bin, ['--config', config], {stdio: ['ignore', 'ignore', 'pipe']})
  containerd.stderr?.on('data', (d: Buffer) => log.push(d.toString()))
  const ctr = requireTool(t, 'ctr')
  for (let i = 0; i < 100; i++) {
    if (existsSync(sock) && run(ctr, ['-a', sock, 'version'], {allowFail: true}).status === 0) return sock
    if (containerd.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`containerd did not answer on ${sock}:\n${log.join('').slice(-3000)}`)
}

describe('Kubernetes image archives, imported and run by containerd', {timeout: 90 * 60_000}, () => {
  it('holds every image kubeadm and the flannel manifest name, runnable', async (t) => {
    const bin = requireTool(t, 'containerd')
    const ctr = requireTool(t, 'ctr')
    requireTool(t, 'runc')
    const kubeadm = requireKubeCommand(t, 'kubeadm', VERSION)
    const dir = buildArtifacts(t, 'build-kube-images.sh')

    const kubeadmImages = run(kubeadm, ['config', 'images', 'list', '--kubernetes-version', `v${VERSION}`])
      .stdout.trim()
      .split('\n')
    assert.ok(kubeadmImages.includes(`registry.k8s.io/kube-apiserver:v${VERSION}`), kubeadmImages.join('\n'))
    const flannelImages = [
      ...new Set([...readFileSync(path.join(dir, 'kube-flannel.yml'), 'utf8').matchAll(/^\s*image:\s*(\S+)\s*$/gm)].map((m) => m[1] ?? '')),
    ]
    assert.equal(flannelImages.length, 2, `kube-flannel.yml names ${flannelImages.join(', ')}`)
    const flannelImage = flannelImages.find((i) => i.includes('/flannel:')) ?? ''
    const cniPluginImage = flannelImages.find((i) => i.includes('/flannel-cni-plugin:')) ?? ''
    const wanted = [...kubeadmImages, `registry.k8s.io/kube-proxy:v${VERSION}`, ...flannelImages]

    const archives = readFileSync(path.join(dir, 'images.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
    const sock = await startContainerd(t, bin)
    for (const [name, file] of archives) {
      const r = run(ctr, ['-a', sock, '-n', 'k8s.io', 'images', 'import', path.join(dir, file ?? '')])
      t.diagnostic(`imported ${file}: ${r.stdout.trim().replace(/\s+/g, ' ')} (${name})`)
    }
    const listed = run(ctr, ['-a', sock, '-n', 'k8s.io', 'images', 'ls', '-q']).stdout.trim().split('\n')
    for (const w of [...new Set(wanted)]) assert.ok(listed.includes(w), `containerd has no ${w}; it has:\n${listed.join('\n')}`)

    // Each image's own binary, run by containerd with runc from the image's unpacked snapshot.
    const runs: Array<[string, string[], RegExp]> = [
      [
        `registry.k8s.io/kube-apiserver:v${VERSION}`,
        ['kube-apiserver', '--version'],
        new RegExp(`Kubernetes v${VERSION.replaceAll('.', '\\.')}`),
      ],
      [`registry.k8s.io/kube-proxy:v${VERSION}`, ['kube-proxy', '--version'], new RegExp(`Kubernetes v${VERSION.replaceAll('.', '\\.')}`)],
      [`registry.k8s.io/kube-proxy:v${VERSION}`, ['iptables', '--version'], /iptables v1\.8\.\d+ \(nf_tables\)/],
      [kubeadmImages.find((i) => i.includes('/etcd:')) ?? '', ['etcd', '--version'], /etcd Version: 3\.6\.5/],
      [kubeadmImages.find((i) => i.includes('/coredns')) ?? '', ['/coredns', '-version'], /CoreDNS-1\.12\.1/],
      [kubeadmImages.find((i) => i.includes('/pause:')) ?? '', ['/pause', '-v'], /pause\.c v3\.10\.1/],
      [flannelImage, ['/opt/bin/flanneld', '--version'], /v0\.26\./],
      [flannelImage, ['iptables', '--version'], /nf_tables/],
      [cniPluginImage, ['/flannel'], /CNI flannel plugin/],
    ]
    let n = 0
    for (const [image, argv, expect] of runs) {
      const r = run(ctr, ['-a', sock, '-n', 'k8s.io', 'run', '--rm', image, `ng-run-${n++}`, ...argv], {allowFail: true})
      const out = `${r.stdout}${r.stderr}`
      assert.match(out, expect, `${image} ${argv.join(' ')} exited ${r.status}:\n${out}`)
      t.diagnostic(`${image}: ${argv.join(' ')} -> ${out.trim().split('\n')[0]}`)
    }
    // The flannel images' init containers copy with cp (busybox).
    const cp = run(ctr, ['-a', sock, '-n', 'k8s.io', 'run', '--rm', cniPluginImage, 'ng-cp', 'cp', '-f', '/flannel', '/tmp/flannel'], {
      allowFail: true,
    })
    assert.equal(cp.status, 0, `cp in the flannel CNI plugin image: ${cp.stderr}`)
  })
})
