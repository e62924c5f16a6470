/** `nodegen serve`'s HTTP routes: iPXE, NoCloud-net, Ignition, status reports, unknown machines, tokens, live profile changes. */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {parse} from 'yaml'
import {materialFromSecrets} from '../../../src/app/material.js'
import {nodeUrlToken, type RunningServer, startServer} from '../../../src/app/serve.js'
import {loadOrCreateCalendar, loadOrCreateState} from '../../../src/pki/index.js'
import {fixturePkiContext} from '../../support/pki-fixture.js'
import {PROFILES_DIR} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-serve-'))
const profile = path.join(tmp, 'pxe.yaml')
const logs: string[] = []

function writeProfile(extraMac = '52:54:00:10:00:21'): void {
  const text = readFileSync(path.join(PROFILES_DIR, 'single-debian.yaml'), 'utf8')
    .replace('52:54:00:10:00:21', extraMac)
    .replace(
      '  firewall: disabled',
      `  firewall: disabled
  platform:
    type: pxe
    pxe:
      kernel:
        debian-12: {kernel: assets/vmlinuz, initrd: [assets/initrd.img], args: console=ttyS0}`,
    )
    .replace(
      '{name: deb-worker-1, role: worker, ip: 10.10.0.20/24, mac: "52:54:00:10:00:20"}',
      '{name: deb-worker-1, role: worker, ip: 10.10.0.20/24, mac: "52:54:00:10:00:20", uuid: "4c4c4544-0042-3510-8052-b4c04f4e4d32"}',
    )
  writeFileSync(profile, text)
}

async function serve(tokenKey?: string): Promise<RunningServer> {
  const state = path.join(tmp, 'state')
  return startServer({
    profilePath: profile,
    material: async (c) => {
      const {secrets} = await loadOrCreateState(state, c, fixturePkiContext())
      return materialFromSecrets(c, secrets, await loadOrCreateCalendar(state, fixturePkiContext()), new Date('2026-06-01T00:00:00Z'))
    },
    host: '127.0.0.1',
    port: 0,
    ...(tokenKey ? {tokenKey} : {insecureNoToken: true}),
    log: (l) => logs.push(l),
  })
}

describe('nodegen serve', () => {
  let s: RunningServer
  before(async () => {
    writeProfile()
    s = await serve()
  })
  after(async () => {
    await s.close()
    rmSync(tmp, {recursive: true, force: true})
  })
  const get = (p: string, init?: RequestInit) => fetch(`${s.url}${p}`, init)

  it('GET /boot.ipxe chains to the per-MAC script', async () => {
    const r = await get('/boot.ipxe')
    assert.equal(r.status, 200)
    const text = await r.text()
    assert.match(text, /^#!ipxe\n/)
    assert.match(text, new RegExp(`^chain ${s.url}/ipxe/\\$\\{mac:hexhyp\\}$`, 'm'))
  })

  it('GET /ipxe/<mac> boots the OS kernel with the NoCloud-net seed URL', async () => {
    const r = await get('/ipxe/52-54-00-10-00-10')
    assert.equal(r.status, 200)
    const text = await r.text()
    assert.match(
      text,
      new RegExp(`^kernel ${s.url}/assets/vmlinuz console=ttyS0 ds=nocloud-net;s=${s.url}/nocloud/52:54:00:10:00:10/$`, 'm'),
    )
    assert.match(text, new RegExp(`^initrd ${s.url}/assets/initrd.img$`, 'm'))
    assert.match(text, /^boot$/m)
  })

  it("GET /nocloud/<mac>/{user-data,meta-data,network-config,vendor-data} serve the node's own seed", async () => {
    const ud = await (await get('/nocloud/52:54:00:10:00:10/user-data')).text()
    assert.ok(ud.startsWith('#cloud-config\n'))
    assert.equal(parse(ud).hostname, 'deb-cp-1')
    const md = parse(await (await get('/nocloud/52:54:00:10:00:10/meta-data')).text())
    assert.equal(md['local-hostname'], 'deb-cp-1')
    const nc = parse(await (await get('/nocloud/52:54:00:10:00:10/network-config')).text())
    assert.deepEqual(nc.ethernets.eth0.addresses, ['10.10.0.10/24'])
    assert.equal((await get('/nocloud/52:54:00:10:00:10/vendor-data')).status, 200)
    // a worker's seed carries no CA key
    assert.doesNotMatch(await (await get('/nocloud/52:54:00:10:00:20/user-data')).text(), /PRIVATE KEY/)
  })

  it('matches machines by matchBy only: with mac, a UUID or a name path is no machine', async () => {
    assert.equal((await get('/nocloud/4C4C4544-0042-3510-8052-B4C04F4E4D32/meta-data')).status, 404)
    assert.equal((await get('/nocloud/deb-worker-1/meta-data')).status, 404)
    const r = await get('/nocloud/52-54-00-10-00-20/meta-data')
    assert.equal(r.status, 200)
    assert.equal(parse(await r.text())['local-hostname'], 'deb-worker-1')
  })

  it('an unknown MAC gets 404 and a log line; Ignition is only for Ignition nodes', async () => {
    const r = await get('/nocloud/52:54:00:ff:ff:ff/user-data')
    assert.equal(r.status, 404)
    assert.ok(logs.some((l) => /GET \/nocloud\/52:54:00:ff:ff:ff\/user-data 404/.test(l)))
    assert.equal((await get('/ignition/52:54:00:10:00:10')).status, 404)
    assert.equal((await get('/nope')).status, 404)
  })

  it('POST /status/<node> records phases; GET /status shows the fleet', async () => {
    const body = JSON.stringify({node: 'deb-cp-1', role: 'control-plane', phase: 'role', state: 'running', reason: ''})
    const r = await get('/status/deb-cp-1', {method: 'POST', body, headers: {'content-type': 'application/json'}})
    assert.equal(r.status, 204)
    assert.equal((await get('/status/nobody', {method: 'POST', body})).status, 404)
    assert.equal((await get('/status/deb-cp-1', {method: 'POST', body: 'not json'})).status, 400)
    const all = (await (await get('/status')).json()) as Array<{node: string; phase: string}>
    assert.equal(all[0]?.node, 'deb-cp-1')
    assert.equal(all[0]?.phase, 'role')
  })

  it('picks up a profile change on the next request', async () => {
    assert.equal((await get('/nocloud/52:54:00:10:00:99/meta-data')).status, 404)
    writeProfile('52:54:00:10:00:99')
    utimesSync(profile, new Date(), new Date(Date.now() + 5000))
    const r = await get('/nocloud/52:54:00:10:00:99/meta-data')
    assert.equal(r.status, 200)
    assert.equal(parse(await r.text())['local-hostname'], 'deb-worker-2')
  })

  it('with a token required, a node URL without the right token is 403; the access log never shows it', async () => {
    const t = await serve('k'.repeat(64))
    try {
      const token = nodeUrlToken('k'.repeat(64), 'deb-cp-1')
      assert.equal((await fetch(`${t.url}/nocloud/52:54:00:10:00:10/user-data`)).status, 403)
      assert.equal((await fetch(`${t.url}/nocloud/52:54:00:10:00:10/wrongtoken0000000000000000000000/user-data`)).status, 403)
      assert.equal(
        (await fetch(`${t.url}/nocloud/52:54:00:10:00:10/${nodeUrlToken('k'.repeat(64), 'deb-worker-1')}/user-data`)).status,
        403,
      )
      assert.equal((await fetch(`${t.url}/nocloud/52:54:00:10:00:10/${token}/user-data`)).status, 200)
      const ipxe = await (await fetch(`${t.url}/ipxe/52:54:00:10:00:10?token=${token}`)).text()
      assert.ok(ipxe.includes(`/nocloud/52:54:00:10:00:10/${token}/`))
      assert.equal((await fetch(`${t.url}/ipxe/52:54:00:10:00:10`)).status, 403)
      assert.ok(!logs.join('\n').includes(`?token=${token}`))
    } finally {
      await t.close()
    }
  })
})
