/** The ISO writer checked by the tools that read ISOs: xorriso, isoinfo, blkid, and cloud-init's config-drive parser. */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {writeBundle} from '../../../src/media/bundle.js'
import {configDriveEntries, configDriveNetworkData} from '../../../src/media/configdrive.js'
import {buildIso, type IsoEntry} from '../../../src/media/iso/index.js'
import {nocloudEntries} from '../../../src/media/nocloud.js'
import {requireTool, run} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-iso-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

const big = Buffer.concat(Array.from({length: 3000}, (_, i) => createHash('sha256').update(String(i)).digest()))
const SEED = nocloudEntries({
  userData: Buffer.from('#cloud-config\nhostname: node-1\n'),
  metaData: 'instance-id: demo-node-1-abc\nlocal-hostname: node-1\n',
  networkConfig: 'version: 2\nethernets:\n  eth0:\n    addresses: [10.0.0.10/24]\n',
  vendorData: '#cloud-config\n{}\n',
})
const EXTRA: IsoEntry[] = [
  {path: 'a-long-lowercase-name-with-dashes.yaml', data: big, mode: 0o640},
  {path: 'empty-file', data: new Uint8Array(0)},
  {path: 'deep/er/path/file.json', data: Buffer.from('{}')},
]

function write(name: string, entries: IsoEntry[], volumeId: string, epoch = 1_700_000_000): string {
  const p = path.join(tmp, name)
  writeFileSync(p, buildIso(entries, {volumeId, epoch}))
  return p
}

describe('ISO 9660 writer', () => {
  it('xorriso reports the volume id and lists the NoCloud files', (t) => {
    const xorriso = requireTool(t, 'xorriso')
    const iso = write('seed.iso', [...SEED, ...EXTRA], 'cidata')
    assert.match(run(xorriso, ['-indev', iso, '-pvd_info']).stdout, /Volume Id\s*:\s*cidata\b/)
    const found = run(xorriso, ['-indev', iso, '-find', '/']).stdout
    for (const f of [
      '/user-data',
      '/meta-data',
      '/network-config',
      '/vendor-data',
      '/a-long-lowercase-name-with-dashes.yaml',
      '/deep/er/path/file.json',
    ])
      assert.ok(found.includes(`'${f}'`), `${f} not listed:\n${found}`)
  })

  it('files extracted by xorriso and by isoinfo (Rock Ridge and Joliet) are byte-identical, modes kept', (t) => {
    const xorriso = requireTool(t, 'xorriso')
    const isoinfo = requireTool(t, 'isoinfo')
    const iso = write('extract.iso', [...SEED, ...EXTRA], 'cidata')
    const out = path.join(tmp, 'extracted')
    mkdirSync(out)
    run(xorriso, ['-osirrox', 'on', '-indev', iso, '-extract', '/', out])
    for (const e of [...SEED, ...EXTRA]) {
      const p = path.join(out, e.path)
      assert.ok(Buffer.from(e.data).equals(readFileSync(p)), `${e.path} differs (xorriso)`)
      assert.equal(statSync(p).mode & 0o777, e.mode ?? 0o644, `${e.path} mode`)
      assert.ok(Buffer.from(e.data).equals(run(isoinfo, ['-R', '-i', iso, '-x', `/${e.path}`]).stdoutBuf), `${e.path} differs (isoinfo -R)`)
      assert.ok(
        Buffer.from(e.data).equals(run(isoinfo, ['-J', '-i', iso, '-x', `/${e.path};1`]).stdoutBuf),
        `${e.path} differs (isoinfo -J)`,
      )
    }
    const d = run(isoinfo, ['-d', '-i', iso]).stdout
    assert.match(d, /Rock Ridge signatures version 1 found/)
    assert.match(d, /Joliet with UCS level 3 found/)
  })

  it('blkid sees the label cloud-init looks for', (t) => {
    const blkid = requireTool(t, 'blkid')
    const iso = write('label.iso', SEED, 'cidata')
    assert.match(run(blkid, ['-p', iso]).stdout, /LABEL="cidata"/)
    const cd = write('cd.iso', configDriveEntries({instanceId: 'i-1', hostname: 'n1', userData: Buffer.from('x'), sshKeys: []}), 'config-2')
    assert.match(run(blkid, ['-p', cd]).stdout, /LABEL="config-2"/)
  })

  it('the same input gives the same bytes; another epoch changes only timestamps', () => {
    const a = buildIso([...SEED, ...EXTRA], {volumeId: 'cidata', epoch: 1_700_000_000})
    const b = buildIso([...SEED, ...EXTRA], {volumeId: 'cidata', epoch: 1_700_000_000})
    const c = buildIso([...SEED, ...EXTRA], {volumeId: 'cidata', epoch: 1_800_000_000})
    assert.ok(a.equals(b))
    assert.equal(a.length, c.length)
    assert.ok(!a.equals(c))
  })

  it("the config drive's network_data.json converts with cloud-init's own parser", (t) => {
    const nd = configDriveNetworkData({
      interface: 'eth0',
      mac: '52:54:00:12:34:56',
      address: '10.0.0.10',
      prefix: 24,
      gateway: '10.0.0.1',
      dns: ['10.0.0.1'],
      search: [],
    })
    const py = `
import json, sys
from cloudinit.sources.helpers.openstack import convert_net_json
cfg = convert_net_json(json.load(sys.stdin), known_macs={'52:54:00:12:34:56': 'eth0'})
print(json.dumps(cfg, sort_keys=True))`
    // cloud-init's own Python (Debian's), which may not be the first python3 on PATH
    const python =
      readFileSync(requireTool(t, 'cloud-init'), 'utf8')
        .split('\n')[0]
        ?.replace(/^#!\s*/, '')
        .split(' ')[0] ?? '/usr/bin/python3'
    const cfg = JSON.parse(run(python, ['-c', py], {input: JSON.stringify(nd)}).stdout)
    assert.equal(cfg.version, 1)
    const phys = cfg.config.find((c: {type: string}) => c.type === 'physical')
    assert.equal(phys.name, 'eth0')
    assert.equal(phys.mac_address, '52:54:00:12:34:56')
    const sub = phys.subnets[0]
    assert.equal(sub.type, 'static')
    assert.equal(sub.address, '10.0.0.10')
    assert.equal(sub.netmask, '255.255.255.0')
    assert.deepEqual(
      sub.routes.map((r: {gateway: string}) => r.gateway),
      ['10.0.0.1'],
    )
    assert.ok(cfg.config.some((c: {type: string; address?: string}) => c.type === 'nameserver' && c.address === '10.0.0.1'))
  })

  it('bundles: tar.gz and zip list the entries with their modes, deterministically', async (t) => {
    requireTool(t, 'tar')
    const entries = [
      {path: 'n1/user-data', data: 'secret\n', mode: 0o600},
      {path: 'n1/meta-data', data: 'instance-id: x\n', mode: 0o644},
    ]
    const tgz = path.join(tmp, 'b.tar.gz')
    await writeBundle(entries, 'tar.gz', 1_700_000_000, createWriteStream(tgz))
    const listing = run('tar', ['-tzvf', tgz]).stdout
    assert.match(listing, /^-rw------- .*n1\/user-data$/m)
    assert.match(listing, /^-rw-r--r-- .*n1\/meta-data$/m)
    const tgz2 = path.join(tmp, 'b2.tar.gz')
    await writeBundle(entries, 'tar.gz', 1_700_000_000, createWriteStream(tgz2))
    assert.ok(readFileSync(tgz).equals(readFileSync(tgz2)))
    const zip = path.join(tmp, 'b.zip')
    await writeBundle(entries, 'zip', 1_700_000_000, createWriteStream(zip))
    const py =
      'import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1])\nfor i in z.infolist(): print(i.filename, oct(i.external_attr >> 16 & 0o777), z.read(i.filename).decode().strip())'
    const zl = run('python3', ['-c', py, zip]).stdout
    assert.match(zl, /n1\/user-data 0o600 secret/)
    assert.match(zl, /n1\/meta-data 0o644 instance-id: x/)
  })
})
