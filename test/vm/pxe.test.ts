/**
 * Network boot through `nodegen serve`: qemu's iPXE ROM (Debian's ipxe-qemu) gets the entry script
 * URL from user-mode networking's DHCP, chains to the per-MAC script, loads the test image's kernel
 * and initrd from the server, and cloud-init inside takes its seed over NoCloud-net; the node's
 * bootstrap runs to its ready line.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {materialFromSecrets} from '../../src/app/material.js'
import {startServer} from '../../src/app/serve.js'
import {loadOrCreateCalendar, loadOrCreateState} from '../../src/pki/index.js'
import {fixturePkiContext} from '../support/pki-fixture.js'
import {PROFILES_DIR} from '../support/profiles.js'
import {ensureVmImage, Vm, vmToolsMissing} from '../support/qemu.js'
import {findTool} from '../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-vm-pxe-'))
const vms: Vm[] = []
after(() => {
  for (const v of vms) v.cleanup()
  rmSync(tmp, {recursive: true, force: true})
})

const missing = [...vmToolsMissing(), ...(findTool('qemu-system-x86_64') && !readRom() ? ['ipxe-qemu'] : [])]
function readRom(): boolean {
  try {
    return readFileSync('/usr/lib/ipxe/qemu/efi-virtio.rom').length > 0
  } catch {
    return false
  }
}
const skip = missing.length > 0 && !process.env.CI ? `missing ${missing.join(', ')} (npm run test:tools)` : false

describe('PXE boot through nodegen serve', {skip, timeout: 20 * 60_000}, () => {
  it('iPXE fetches the per-MAC script and the kernel, cloud-init takes NoCloud-net, the bootstrap finishes', async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}; under CI=true a missing tool is a failure`)
    const image = ensureVmImage()
    const profile = path.join(tmp, 'pxe.yaml')
    const text = readFileSync(path.join(PROFILES_DIR, 'single-debian.yaml'), 'utf8')
      .replace(
        '  firewall: disabled',
        `  firewall: disabled
  image: {baked: true}
  bootstrap: {timeout: 10m}
  platform:
    type: pxe
    pxe:
      kernel:
        debian-12: {kernel: assets/vmlinuz, initrd: [assets/initrd.img], args: "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1"}`,
      )
      .replace('    cni:\n      type: flannel', '    cni:\n      type: flannel\n      manifestFile: cni.yaml')
      // The node's addresses are user-mode networking's: Debian 12's cloud-init (22.4) fetches no
      // network-config from an http seed, so the machine keeps the address its DHCP gives, 10.0.2.15,
      // and kubeadm's etcd must bind the address the profile names.
      .replace('10.10.0.10/24', '10.0.2.15/24')
      .replace('10.10.0.20/24', '10.0.2.20/24')
      .replace('10.10.0.21/24', '10.0.2.21/24')
      .replace('gateway: 10.10.0.1', 'gateway: 10.0.2.2')
      .replace('dnsServers: [10.10.0.1]', 'dnsServers: [10.0.2.3]')
    assert.doesNotMatch(text, /10\.10\.0\./)
    writeFileSync(profile, text)
    writeFileSync(path.join(tmp, 'cni.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cni}\n')
    const logs: string[] = []
    const state = path.join(tmp, 'state')
    // Inside user-mode networking the host's loopback is 10.0.2.2: the server listens on a port
    // chosen first, and tells the nodes that address.
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as net.AddressInfo).port
        probe.close(() => resolve(p))
      })
    })
    const publicUrl = `http://10.0.2.2:${port}`
    const server = await startServer({
      profilePath: profile,
      material: async (c) => {
        const {secrets} = await loadOrCreateState(state, c, fixturePkiContext({now: new Date()}))
        return materialFromSecrets(c, secrets, await loadOrCreateCalendar(state, fixturePkiContext()), new Date())
      },
      host: '127.0.0.1',
      insecureNoToken: true,
      port,
      publicUrl,
      assetsDir: path.dirname(image.kernel),
      log: (l) => logs.push(l),
    })
    try {
      const vm = new Vm({
        name: 'pxe-cp',
        image,
        media: [],
        net: {kind: 'user', mac: '52:54:00:10:00:10', bootfile: `${publicUrl}/boot.ipxe`},
      })
      vms.push(vm)
      vm.start()
      const m = await vm.waitFor(/nodegen: deb-cp-1 control-plane (ready|failed at [^\n]*)/, 15 * 60_000)
      assert.equal(m[1], 'ready', `${vm.tail()}\n${logs.join('\n')}`)
      const log = logs.join('\n')
      for (const p of [
        'GET /boot.ipxe 200',
        'GET /ipxe/52-54-00-10-00-10 200',
        'GET /assets/vmlinuz 200',
        'GET /assets/initrd.img 200',
        'GET /nocloud/52:54:00:10:00:10/meta-data 200',
        'GET /nocloud/52:54:00:10:00:10/user-data 200',
      ])
        assert.ok(log.includes(p), `server never saw ${p}:\n${log}`)
      assert.match(vm.console(), /DataSourceNoCloudNet/)
      await vm.powerOff()
      assert.equal(vm.readFile('/etc/hostname')?.trim(), 'deb-cp-1')
    } finally {
      await server.close()
    }
  })
})
