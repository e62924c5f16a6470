/**
 * `nodegen render --media pxe`: the static tree any web server can serve, walked the way iPXE and
 * cloud-init walk it (entry script → per-machine script → seed URL → user-data), and dnsmasq's own
 * `--test` on the generated DHCP/proxy-DHCP configurations. Also `nodegen serve` with SMBIOS UUID
 * matching: one kernel command line for every machine.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {parse} from 'yaml'
import {materialFromSecrets} from '../../../src/app/material.js'
import {startServer} from '../../../src/app/serve.js'
import {loadOrCreateCalendar, loadOrCreateState} from '../../../src/pki/index.js'
import {nodegen} from '../../support/cli.js'
import {fixturePkiContext} from '../../support/pki-fixture.js'
import {PROFILES_DIR} from '../../support/profiles.js'
import {requireTool, run} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-pxe-media-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function writeProfile(file: string, serverUrl: string, matchBy: 'mac' | 'uuid' | 'hostname'): string {
  const text = readFileSync(path.join(PROFILES_DIR, 'single-debian.yaml'), 'utf8')
    .replace(
      '  firewall: disabled',
      `  firewall: disabled
  platform:
    type: pxe
    pxe:
      serverUrl: ${serverUrl}
      matchBy: ${matchBy}
      kernel:
        debian-12: {kernel: assets/vmlinuz, initrd: [assets/initrd.img], args: console=ttyS0}`,
    )
    .replace('mac: "52:54:00:10:00:10"}', 'mac: "52:54:00:10:00:10", uuid: "4c4c4544-0042-3510-8052-b4c04f4e4d31"}')
    .replace('mac: "52:54:00:10:00:20"}', 'mac: "52:54:00:10:00:20", uuid: "4c4c4544-0042-3510-8052-b4c04f4e4d32"}')
    .replace('mac: "52:54:00:10:00:21"}', 'mac: "52:54:00:10:00:21", uuid: "4c4c4544-0042-3510-8052-b4c04f4e4d33"}')
  const p = path.join(tmp, file)
  writeFileSync(p, text)
  return p
}

/** A plain static file server over a directory: what a user's nginx would be. */
function staticServer(root: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    try {
      const f = path.join(root, path.normalize(rel))
      if (!f.startsWith(root) || !statSync(f).isFile()) throw new Error('no')
      res.writeHead(200).end(readFileSync(f))
    } catch {
      res.writeHead(404).end()
    }
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

describe('render --media pxe: a static tree for any web server', () => {
  let server: http.Server
  let base: string
  let out: string
  before(async () => {
    out = path.join(tmp, 'www')
    server = await staticServer(path.join(out, 'pxe'))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const profile = writeProfile('mac.yaml', base, 'mac')
    const r = nodegen(['render', profile, '-o', out, '--state', path.join(tmp, 'state')])
    assert.equal(r.status, 0, r.stderr)
  })
  after(() => server.close())

  it('walks like iPXE and cloud-init: entry script, the per-MAC script, the seed, the user-data', async () => {
    const entry = await (await fetch(`${base}/boot.ipxe`)).text()
    assert.match(entry, /^#!ipxe\n/)
    const chain = /^chain (\S+)$/m.exec(entry)?.[1]
    assert.ok(chain, entry)
    // iPXE expands ${mac:hexhyp} to 52-54-00-10-00-10
    // biome-ignore lint/suspicious/noTemplateCurlyInString: iPXE's own expansion
    const script = await (await fetch(chain.replace('${mac:hexhyp}', '52-54-00-10-00-10'))).text()
    const kernel = /^kernel (\S+) (.*)$/m.exec(script)
    assert.ok(kernel, script)
    assert.equal(kernel[1], `${base}/assets/vmlinuz`)
    const seed = /ds=nocloud-net;s=(\S+)/.exec(kernel[2] as string)?.[1]
    assert.equal(seed, `${base}/nocloud/52:54:00:10:00:10/`)
    // cloud-init appends the file names to the seed URL
    const ud = await fetch(`${seed}user-data`)
    assert.equal(ud.status, 200)
    const userData = await ud.text()
    assert.ok(userData.startsWith('#cloud-config\n'))
    assert.equal(parse(userData).hostname, 'deb-cp-1')
    assert.equal(parse(await (await fetch(`${seed}meta-data`)).text())['local-hostname'], 'deb-cp-1')
    assert.deepEqual(parse(await (await fetch(`${seed}network-config`)).text()).ethernets.eth0.addresses, ['10.10.0.10/24'])
    assert.equal((await fetch(`${seed}vendor-data`)).status, 200)
    assert.match(script, new RegExp(`^initrd ${base}/assets/initrd.img$`, 'm'))
  })

  it('a control plane seed is 0600 with its CA key; a worker seed carries no CA key', () => {
    const cp = path.join(out, 'pxe/nocloud/52:54:00:10:00:10/user-data')
    assert.equal(statSync(cp).mode & 0o777, 0o600)
    assert.match(readFileSync(cp, 'utf8'), /PRIVATE KEY/)
    assert.doesNotMatch(readFileSync(path.join(out, 'pxe/nocloud/52:54:00:10:00:20/user-data'), 'utf8'), /PRIVATE KEY/)
  })

  it('dnsmasq accepts both generated configurations', (t) => {
    const dnsmasq = requireTool(t, 'dnsmasq')
    for (const f of ['dnsmasq-proxy.conf', 'dnsmasq-dhcp.conf']) {
      const r = run(dnsmasq, ['--test', `--conf-file=${path.join(out, f)}`], {allowFail: true})
      assert.equal(r.status, 0, `${f}: ${r.stderr}`)
      assert.match(r.stderr, /syntax check OK/, f)
    }
    const dhcp = readFileSync(path.join(out, 'dnsmasq-dhcp.conf'), 'utf8')
    assert.match(dhcp, /^dhcp-host=52:54:00:10:00:10,set:ng0,10\.10\.0\.10,deb-cp-1$/m)
    assert.match(dhcp, /^dhcp-range=10\.10\.0\.0,static,255\.255\.255\.0,12h$/m)
    assert.match(
      readFileSync(path.join(out, 'dnsmasq-proxy.conf'), 'utf8'),
      new RegExp(`pxe-service=tag:ipxe,x86PC,"nodegen",${base}/boot.ipxe`),
    )
  })

  it('without spec.platform.pxe.serverUrl, --media pxe is one clear error and writes nothing', () => {
    const p = path.join(tmp, 'nourl.yaml')
    writeFileSync(p, readFileSync(path.join(tmp, 'mac.yaml'), 'utf8').replace(/ {6}serverUrl: .*\n/, ''))
    const o = path.join(tmp, 'nourl-out')
    const r = nodegen(['render', p, '-o', o, '--state', path.join(tmp, 'state')])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /--media pxe needs spec\.platform\.pxe\.serverUrl/)
    assert.throws(() => statSync(o))
  })

  it('--require-token gives each machine its tokened script in dnsmasq-dhcp.conf, written 0600', () => {
    const o = path.join(tmp, 'tokens')
    const r = nodegen(['render', path.join(tmp, 'mac.yaml'), '-o', o, '--state', path.join(tmp, 'state'), '--require-token'])
    assert.equal(r.status, 0, r.stderr)
    const f = path.join(o, 'dnsmasq-dhcp.conf')
    assert.equal(statSync(f).mode & 0o777, 0o600)
    assert.match(
      readFileSync(f, 'utf8'),
      /^dhcp-boot=tag:ipxe,tag:ng1,http:\/\/127\.0\.0\.1:\d+\/ipxe\/52:54:00:10:00:20\?token=[0-9a-f]{32}$/m,
    )
  })
})

describe('serve with matchBy uuid: one kernel command line for every machine', () => {
  it('the entry chains by the SMBIOS uuid; every script seeds from __dmi.system-uuid__, and the UUID path serves the node', async () => {
    const profile = writeProfile('uuid.yaml', 'http://127.0.0.1:1', 'uuid')
    const state = path.join(tmp, 'state-uuid')
    const s = await startServer({
      profilePath: profile,
      material: async (c) => {
        const {secrets} = await loadOrCreateState(state, c, fixturePkiContext())
        return materialFromSecrets(c, secrets, await loadOrCreateCalendar(state, fixturePkiContext()), new Date('2026-06-01T00:00:00Z'))
      },
      host: '127.0.0.1',
      insecureNoToken: true,
      port: 0,
    })
    try {
      const u = s.url
      assert.match(await (await fetch(`${s.url}/boot.ipxe`)).text(), new RegExp(`^chain ${u}/ipxe/\\$\\{uuid\\}$`, 'm'))
      const lines = new Set<string>()
      for (const id of ['4c4c4544-0042-3510-8052-b4c04f4e4d31', '4C4C4544-0042-3510-8052-B4C04F4E4D32']) {
        const script = await (await fetch(`${s.url}/ipxe/${id}`)).text()
        lines.add(/^kernel .*$/m.exec(script)?.[0] ?? '')
      }
      assert.deepEqual([...lines], [`kernel ${u}/assets/vmlinuz console=ttyS0 ds=nocloud-net;s=${u}/nocloud/__dmi.system-uuid__/`])
      const md = await fetch(`${s.url}/nocloud/4c4c4544-0042-3510-8052-b4c04f4e4d33/meta-data`)
      assert.equal(parse(await md.text())['local-hostname'], 'deb-worker-2')
    } finally {
      await s.close()
    }
  })
})
