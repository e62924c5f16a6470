/**
 * The boot test: the Debian 12 test image boots under qemu with the seed nodegen rendered, and
 * cloud-init takes it — hostname, static network, every planned file with its mode and owner, the
 * bootstrap unit — and the bootstrap program runs to kubeadm (a recording stand-in in the test image)
 * with the rendered configuration and prints its status line. One control plane and one worker on
 * a shared virtual L2 segment from NoCloud ISOs; then a control plane from a config drive.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {parse} from 'yaml'
import {nodegen} from '../support/cli.js'
import {PROFILES_DIR} from '../support/profiles.js'
import {ensureVmImage, Vm, type VmImage, vmToolsMissing} from '../support/qemu.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-vm-boot-'))
const vms: Vm[] = []
after(async () => {
  for (const v of vms) v.cleanup()
  rmSync(tmp, {recursive: true, force: true})
})

/** single-debian.yaml, marked as a baked image, with a CNI manifest file (the VMs have no internet). */
function profile(): string {
  const text = readFileSync(path.join(PROFILES_DIR, 'single-debian.yaml'), 'utf8')
    .replace('  firewall: disabled', '  firewall: disabled\n  image: {baked: true}\n  bootstrap: {timeout: 10m}')
    .replace('    cni:\n      type: flannel', '    cni:\n      type: flannel\n      manifestFile: cni.yaml')
  const p = path.join(tmp, 'single-debian.yaml')
  writeFileSync(p, text)
  writeFileSync(
    path.join(tmp, 'cni.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-flannel-cfg}\ndata:\n  net-conf.json: \'{"Network": "10.244.0.0/16"}\'\n',
  )
  return p
}

const missing = vmToolsMissing()
const skip = missing.length > 0 && !process.env.CI ? `missing ${missing.join(', ')} (npm run test:tools)` : false

describe('VM boot with rendered seeds', {skip, timeout: 25 * 60_000}, () => {
  let image: VmImage
  let out: string
  let prof: string
  before(() => {
    if (missing.length > 0) throw new Error(`VM tools missing: ${missing.join(', ')}; under CI=true a missing tool is a failure`)
    image = ensureVmImage()
    prof = profile()
    out = path.join(tmp, 'out')
    const r = nodegen(['render', prof, '-o', out, '--state', path.join(tmp, 'state'), '--media', 'iso', '--json'])
    assert.equal(r.status, 0, r.stderr)
  })

  it('a control plane and a worker take their NoCloud seeds and run the bootstrap to kubeadm', async () => {
    const group = `230.0.0.1:${20000 + (process.pid % 20000)}`
    const cp = new Vm({
      name: 'deb-cp-1',
      image,
      media: [path.join(out, 'deb-cp-1.iso')],
      net: {kind: 'mcast', mac: '52:54:00:10:00:10', group},
    })
    const w = new Vm({
      name: 'deb-worker-1',
      image,
      media: [path.join(out, 'deb-worker-1.iso')],
      net: {kind: 'mcast', mac: '52:54:00:10:00:20', group},
    })
    vms.push(cp, w)
    cp.start()
    w.start()
    const line = (node: string, role: string) => new RegExp(`nodegen: ${node} ${role} (ready|failed at [^\\n]*)`)
    const [cpLine, wLine] = await Promise.all([
      cp.waitFor(line('deb-cp-1', 'control-plane'), 10 * 60_000),
      w.waitFor(line('deb-worker-1', 'worker'), 10 * 60_000),
    ])
    assert.equal(cpLine[1], 'ready', `control plane: ${cpLine[0]}\n${cp.tail()}`)
    assert.equal(wLine[1], 'ready', `worker: ${wLine[0]}\n${w.tail()}`)
    assert.match(cp.console(), /Cloud-init v\. \S+ finished/)
    await Promise.all([cp.powerOff(), w.powerOff()])

    for (const [vm, node, role] of [
      [cp, 'deb-cp-1', 'control-plane'],
      [w, 'deb-worker-1', 'worker'],
    ] as const) {
      assert.equal(vm.readFile('/etc/hostname')?.trim(), node)
      const status = JSON.parse(vm.readFile('/var/lib/nodegen/status.json') ?? '{}')
      assert.equal(status.state, 'ready')
      assert.equal(status.role, role)
      // static addressing from network-config (cloud-init renders ENI on Debian 12)
      const eni = vm.readFile('/etc/network/interfaces.d/50-cloud-init') ?? ''
      assert.match(eni, new RegExp(`address ${role === 'worker' ? '10\\.10\\.0\\.20' : '10\\.10\\.0\\.10'}/24`))
      // every planned file that the bootstrap keeps is there with its mode and owner
      const userData = parse(readFileSync(path.join(out, node, 'user-data'), 'utf8'), {version: '1.1'}) as {
        write_files: Array<{path: string; permissions: string; owner: string}>
      }
      const removed = new Set([
        '/etc/nodegen/kubeadm/config.yaml',
        '/etc/nodegen/kubeadm/config-next.yaml',
        '/etc/nodegen/kubeadm/rejoin.yaml',
      ])
      for (const f of userData.write_files) {
        if (removed.has(f.path)) {
          assert.equal(vm.stat(f.path), undefined, `${node}: ${f.path} should be gone after joining`)
          continue
        }
        const st = vm.stat(f.path)
        assert.ok(st, `${node}: ${f.path} missing`)
        assert.equal(st.mode, Number.parseInt(f.permissions, 8), `${node}: ${f.path} mode`)
        assert.equal(st.uid, 0)
        assert.equal(st.gid, 0)
      }
      // the modules and sysctls: the bootstrap checked them (it dies when a sysctl is not 1)
      assert.match(vm.readFile('/var/log/nodegen/bootstrap.log') ?? '', /phase prepare: done/)
      // cloud-init's copy of the user-data is gone
      assert.equal(vm.readFile('/var/lib/cloud/instance/user-data.txt'), undefined)
      // kubeadm ran with the rendered configuration
      const calls = vm.readFile('/var/log/nodegen-standin/calls.jsonl') ?? ''
      if (role === 'worker') {
        // The join configuration of the token window the worker joined in: config-next.yaml once the
        // window it was rendered in has ended (a run across a window's boundary).
        const join = calls.split('\n').find((l) => l.includes('"argv":"join '))
        assert.ok(join, calls)
        const at = Date.parse(JSON.parse(join).time) / 1000
        const nextFrom = Number(/^TOKEN_NEXT_FROM=(\d+)$/m.exec(vm.readFile('/etc/nodegen/bootstrap.env') ?? '')?.[1])
        assert.ok(nextFrom > 0, 'the worker has no TOKEN_NEXT_FROM')
        const want = at >= nextFrom ? 'config-next' : 'config'
        assert.equal(JSON.parse(join).argv, `join --config /etc/nodegen/kubeadm/${want}.yaml`)
      } else assert.match(calls, /"argv":"init --config \/etc\/nodegen\/kubeadm\/config\.yaml --skip-token-print"/)
      const sub = role === 'worker' ? 'join' : 'init'
      const recorded = vm.readFile(`/var/log/nodegen-standin/0-${sub}.yaml`) ?? vm.readFile(`/var/log/nodegen-standin/1-${sub}.yaml`)
      assert.ok(recorded?.includes(`name: ${node}`), `${node}: kubeadm got no config naming the node`)
    }
  })

  it('a control plane takes a config drive', async () => {
    const cd = path.join(tmp, 'cd')
    const r = nodegen(['render', prof, '-o', cd, '--state', path.join(tmp, 'state'), '--media', 'configdrive', '--node', 'deb-cp-1'])
    assert.equal(r.status, 0, r.stderr)
    const vm = new Vm({name: 'deb-cp-1-cd', image, media: [path.join(cd, 'deb-cp-1.iso')], net: {kind: 'user', mac: '52:54:00:10:00:10'}})
    vms.push(vm)
    vm.start()
    const m = await vm.waitFor(/nodegen: deb-cp-1 control-plane (ready|failed at [^\n]*)/, 10 * 60_000)
    assert.equal(m[1], 'ready', vm.tail())
    await vm.powerOff()
    assert.equal(vm.readFile('/etc/hostname')?.trim(), 'deb-cp-1')
    assert.match(
      vm.readFile('/run/cloud-init/status.json') ?? vm.readFile('/var/lib/cloud/data/status.json') ?? '',
      /ConfigDrive|configdrive/i,
    )
    assert.equal(vm.stat('/etc/kubernetes/pki/ca.key')?.mode, 0o600)
  })
})
