/** Packer's machine-readable lines and manifest files, parsed: samples are Packer 1.6.6's own output. */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {errorLines, MILESTONES, milestoneOf, parseLine, parseManifest, uiText} from '../../../src/image/index.js'

// Captured from `packer build -machine-readable` (1.6.6) with a null source and shell-local provisioners.
const SAMPLE = `1796160849,,ui,say,==> nodegen.null.x: Running local shell script: /tmp/packer-shell2033991296
1796160849,,ui,message,    nodegen.null.x: a%!(PACKER_COMMA) b%!(PACKER_COMMA)c
1796160849,,ui,error,==> nodegen.null.x: second line
1796160849,,ui,say,\\n==> Builds finished. The artifacts of successful builds are:
1796160849,nodegen.null.x,artifact-count,1
1796160849,nodegen.null.x,artifact,0,builder-id,fnoeding.null
1796160849,nodegen.null.x,artifact,0,id,Null
1796160860,,version,1.6.6`

describe('machine-readable output', () => {
  const lines = SAMPLE.split('\n').map(parseLine)

  it('splits timestamp, target, type and data, and undoes the escapes', () => {
    assert.deepEqual(lines[1], {timestamp: 1796160849, target: '', type: 'ui', data: ['message', '    nodegen.null.x: a, b,c']})
    assert.deepEqual(uiText(lines[1]!), {level: 'message', text: '    nodegen.null.x: a, b,c'})
    assert.equal(uiText(lines[3]!)?.text, '\n==> Builds finished. The artifacts of successful builds are:')
    assert.deepEqual(lines[5], {
      timestamp: 1796160849,
      target: 'nodegen.null.x',
      type: 'artifact',
      data: ['0', 'builder-id', 'fnoeding.null'],
    })
    assert.equal(parseLine('Error: not machine readable'), undefined)
    assert.equal(parseLine(''), undefined)
  })

  it('collects the error lines', () => {
    assert.deepEqual(errorLines(lines.filter((l) => l !== undefined)), ['==> nodegen.null.x: second line'])
  })

  it('recognises the milestones of a build, the bake steps by their own lines', () => {
    const cases: Array<[string, string | undefined]> = [
      ['==> nodegen.qemu.debian-12: Retrieving ISO', 'start'],
      ['==> nodegen.amazon-ebs.debian-12: Launching a source AWS instance...', 'start'],
      ['==> nodegen.qemu.debian-12: Waiting for SSH to become available...', 'connect'],
      ['    nodegen.qemu.debian-12: nodegen-image: step packages', 'packages'],
      ['    nodegen.qemu.debian-12: nodegen-image: step cleanup', 'cleanup'],
      ['    nodegen.qemu.debian-12: nodegen-image: step bogus', undefined],
      ['==> nodegen.amazon-ebs.debian-12: Creating AMI nodegen-debian-12 from instance i-1', 'save'],
      ['==> nodegen.qemu.debian-12: Gracefully halting virtual machine...', 'save'],
      ['    nodegen.qemu.debian-12: Get:1 http://deb.debian.org bookworm InRelease', undefined],
    ]
    for (const [text, want] of cases) assert.equal(milestoneOf(text), want, text)
    assert.deepEqual([...MILESTONES], ['start', 'connect', 'files', 'packages', 'images', 'marker', 'cleanup', 'save'])
  })
})

describe('the manifest post-processor', () => {
  const manifest = (builds: object[], last = 'run-2') => JSON.stringify({builds, last_run_uuid: last})
  const build = (o: object) => ({name: 'debian-12', build_time: 1, packer_run_uuid: 'run-2', custom_data: {os: 'debian-12'}, ...o})

  it('takes the last run’s build of the OS and builder', () => {
    const text = manifest([
      build({builder_type: 'amazon-ebs', artifact_id: 'eu-west-1:ami-0aaaaaaaaaaaaaaa1', packer_run_uuid: 'run-1'}),
      build({builder_type: 'amazon-ebs', artifact_id: 'eu-west-1:ami-0bbbbbbbbbbbbbbb2,us-east-1:ami-0ccc'}),
    ])
    const r = parseManifest(text, 'debian-12', 'amazon-ebs')
    assert.ok(r.ok)
    assert.deepEqual(r.artifact, {
      builder: 'amazon-ebs',
      id: 'eu-west-1:ami-0bbbbbbbbbbbbbbb2',
      region: 'eu-west-1',
      ami: 'ami-0bbbbbbbbbbbbbbb2',
    })
  })

  it('reads a GCE image name and a qcow2 path', () => {
    const g = parseManifest(
      manifest([build({builder_type: 'googlecompute', artifact_id: 'nodegen-debian-12-k8s-1-34-2-20261201'})]),
      'debian-12',
      'googlecompute',
    )
    assert.ok(g.ok)
    assert.deepEqual(g.artifact, {
      builder: 'googlecompute',
      id: 'nodegen-debian-12-k8s-1-34-2-20261201',
      image: 'nodegen-debian-12-k8s-1-34-2-20261201',
    })
    const q = parseManifest(
      manifest([build({builder_type: 'qemu', artifact_id: 'VM', files: [{name: 'output-qemu-x/nodegen-debian-12.qcow2', size: 5}]})]),
      'debian-12',
      'qemu',
    )
    assert.ok(q.ok)
    assert.equal(q.artifact.id, 'output-qemu-x/nodegen-debian-12.qcow2')
  })

  it('says why there is no artifact', () => {
    const bad = (text: string, builder: 'qemu' | 'amazon-ebs' | 'googlecompute' = 'amazon-ebs') => {
      const r = parseManifest(text, 'debian-12', builder)
      assert.equal(r.ok, false)
      return r.ok ? '' : r.reason
    }
    assert.match(bad('{'), /not JSON/)
    assert.match(bad('{}'), /no "builds" list/)
    assert.match(
      bad(manifest([build({builder_type: 'amazon-ebs', artifact_id: 'x', packer_run_uuid: 'run-1'})])),
      /no build named debian-12 of type amazon-ebs in the last run/,
    )
    assert.match(bad(manifest([build({builder_type: 'amazon-ebs', artifact_id: 'ami-1'})])), /is not region:ami-id/)
    assert.match(bad(manifest([build({builder_type: 'qemu', artifact_id: 'VM', files: []})]), 'qemu'), /no disk image file/)
  })
})
