/**
 * The image archives of scripts/build-kube-images.sh, judged by containerd itself: Debian's
 * containerd, started on a private socket, root and state, imports every archive into the k8s.io
 * namespace (where the kubelet's CRI looks) under exactly the names the real kubeadm 1.34.2 lists
 * and flannel's manifest names, and runs the images' binaries with runc.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {type Containerd, startContainerd} from '../support/containerd.js'
import {buildArtifacts} from '../support/kube-artifacts.js'
import {requireKubeCommand} from '../support/kubernetes.js'
import {requireTool, run} from '../support/tools.js'

const VERSION = '1.34.2'
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-ctr-'))
let containerd: Containerd | undefined
after(async () => {
  await containerd?.stop()
  rmSync(tmp, {recursive: true, force: true})
})

describe('Kubernetes image archives, imported and run by containerd', {timeout: 90 * 60_000}, () => {
  it('holds every image kubeadm and the flannel manifest name, runnable', async (t) => {
    requireTool(t, 'containerd')
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
    containerd = await startContainerd(t, tmp)
    const sock = containerd.address
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
