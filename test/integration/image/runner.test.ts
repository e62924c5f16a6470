/**
 * The Packer runner against a stand-in packer (test/fixtures/standins/packer): the arguments it is
 * given, `packer init` only where Packer has required_plugins, live milestones from the
 * machine-readable output, the manifest's artifact recorded in the state without touching the
 * PKI, and failures reported with Packer's own error lines.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {loadImageAssets, nodeImages} from '../../../src/app/image.js'
import {type Builder, buildImage, detectPacker, ImageError, type Milestone, readImageRecords} from '../../../src/image/index.js'
import {listStateFiles} from '../../../src/pki/index.js'
import {nodegen} from '../../support/cli.js'
import {copyFixtureState, fixtureCluster, fixtureProfilePath} from '../../support/pki-fixture.js'
import {REPO_ROOT} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-image-runner-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

const bin = path.join(tmp, 'bin')
mkdirSync(bin)
copyFileSync(path.join(REPO_ROOT, 'test/fixtures/standins/packer'), path.join(bin, 'packer'))
const PATH = `${bin}:${process.env.PATH}`

function calls(log: string): string[][] {
  if (!existsSync(log)) return []
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'))
}

function digest(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.set(path.relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex'))
    }
  }
  walk(dir)
  return out
}

let n = 0
function setup(env: Record<string, string> = {}) {
  const dir = path.join(tmp, `case-${n++}`)
  mkdirSync(dir)
  const log = path.join(dir, 'packer-calls.log')
  for (const [k, v] of Object.entries({STANDIN_PACKER_LOG: log, ...env})) process.env[k] = v
  const state = copyFixtureState('quickstart', path.join(dir, 'state'))
  return {dir, log, state, buildDir: path.join(dir, 'build')}
}

/** oclif wraps error messages on stderr (` ›   ` continuation lines): one line again. */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*›\s*/g, ' ')
}

function clearEnv() {
  for (const k of Object.keys(process.env)) if (k.startsWith('STANDIN_PACKER_')) delete process.env[k]
}

async function build(s: ReturnType<typeof setup>, builder: Builder, milestones: Milestone[] = [], vars: Record<string, string> = {}) {
  const cluster = fixtureCluster('quickstart')
  return buildImage({
    cluster,
    os: 'debian-12',
    builder,
    packer: detectPacker(undefined, PATH),
    buildDir: s.buildDir,
    stateDir: s.state,
    assets: loadImageAssets(),
    vars,
    now: () => new Date('2026-12-01T10:00:00Z'),
    onMilestone: (m) => milestones.push(m),
  })
}

describe('the Packer runner (stand-in packer)', () => {
  it('builds with Packer 1.6.6: no init, -only for the one source, milestones in order, the qcow2 recorded', async () => {
    const s = setup()
    try {
      const before = digest(s.state)
      const seen: Milestone[] = []
      const r = await build(s, 'qemu', seen, {qemu_accelerator: 'tcg'})
      const c = calls(s.log)
      assert.deepEqual(
        c.map((x) => x[1]),
        ['version', 'build'],
        'no packer init on 1.6.6',
      )
      const args = c[1]!.slice(1)
      assert.deepEqual(args, [
        'build',
        '-machine-readable',
        '-only=nodegen.qemu.debian-12',
        '-var',
        'qemu_accelerator=tcg',
        '-var',
        'qemu_output_directory=output-qemu-20261201T100000Z',
        '.',
      ])
      assert.equal(c[1]![0], path.resolve(s.buildDir), 'packer runs in the build directory')
      assert.deepEqual(seen, ['start', 'connect', 'files', 'packages', 'images', 'marker', 'cleanup', 'save'])
      const qcow = path.join(path.resolve(s.buildDir), 'output-qemu-20261201T100000Z', 'image.qcow2')
      assert.deepEqual(r.record.artifact, {builder: 'qemu', id: qcow, path: qcow})
      assert.match(readFileSync(path.join(s.buildDir, 'versions.pkr.hcl'), 'utf8'), /required_version = ">= 1\.6\.6"/)
      assert.doesNotMatch(readFileSync(path.join(s.buildDir, 'versions.pkr.hcl'), 'utf8'), /required_plugins \{/)
      assert.equal(statSync(path.join(s.buildDir, 'ssh', 'id_ed25519')).mode & 0o777, 0o600)
      assert.match(
        readFileSync(path.join(s.buildDir, 'seed', 'user-data'), 'utf8'),
        /^ {2}- ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ nodegen-image-build$/m,
      )
      assert.match(readFileSync(path.join(s.buildDir, 'packer.log'), 'utf8'), /nodegen-image: step cleanup/)

      // the record is in the state; nothing else in the state changed
      const records = await readImageRecords(s.state)
      assert.equal(records.length, 1)
      assert.equal(records[0]!.kubernetesVersion, '1.34.2')
      assert.equal(records[0]!.packerVersion, '1.6.6')
      assert.equal(statSync(path.join(s.state, 'images.json')).mode & 0o777, 0o600)
      const afterBuild = digest(s.state)
      afterBuild.delete('images.json')
      assert.deepEqual(afterBuild, before)
      assert.ok((await listStateFiles(s.state)).includes('images.json'))
    } finally {
      clearEnv()
    }
  })

  it('runs packer init first with Packer 1.7+, and writes required_plugins', async () => {
    const s = setup({STANDIN_PACKER_VERSION: '1.11.2'})
    try {
      const r = await build(s, 'amazon-ebs', [], {aws_region: 'eu-west-1'})
      assert.deepEqual(
        calls(s.log).map((x) => x.slice(1, 3)),
        [
          ['version', '-machine-readable'],
          ['init', '.'],
          ['build', '-machine-readable'],
        ],
      )
      assert.match(readFileSync(path.join(s.buildDir, 'versions.pkr.hcl'), 'utf8'), /required_plugins \{/)
      assert.deepEqual(r.record.artifact, {
        builder: 'amazon-ebs',
        id: 'eu-west-1:ami-0123456789abcdef0',
        region: 'eu-west-1',
        ami: 'ami-0123456789abcdef0',
      })
    } finally {
      clearEnv()
    }
  })

  it('replaces the record of the same OS and builder, keeps the others; render finds each node its image', async () => {
    const s = setup()
    try {
      await build(s, 'googlecompute', [], {gcp_project_id: 'p'})
      process.env.STANDIN_AMI = 'ami-00000000000000001'
      await build(s, 'amazon-ebs')
      process.env.STANDIN_AMI = 'ami-00000000000000002'
      const r = await build(s, 'amazon-ebs')
      assert.deepEqual(
        r.records.map((x) => [x.builder, x.artifact.id]),
        [
          ['amazon-ebs', 'us-east-1:ami-00000000000000002'],
          ['googlecompute', 'nodegen-debian-12-k8s-1-34-2-20261201000000'],
        ],
      )
      // quickstart is an AlmaLinux nocloud cluster: no recorded debian qemu image fits it
      const cluster = fixtureCluster('quickstart')
      const baked = {...cluster, image: {baked: true}}
      const found = await nodeImages(baked, s.state)
      assert.deepEqual(found.byNode, {})
      assert.match(
        found.warnings[0] ?? '',
        /no qemu image of almalinux-9 is recorded: run `nodegen image build --os almalinux-9 --builder qemu`/,
      )
      const gcp = {
        ...cluster,
        platform: {...cluster.platform, type: 'gcp' as const},
        nodes: cluster.nodes.map((x) => ({...x, os: 'debian-12' as const})),
      }
      assert.deepEqual(
        Object.values((await nodeImages(gcp, s.state)).byNode),
        Array(cluster.nodes.length).fill('nodegen-debian-12-k8s-1-34-2-20261201000000'),
      )
    } finally {
      delete process.env.STANDIN_AMI
      clearEnv()
    }
  })

  it("reports a failed build with Packer's error lines and the log, and records nothing", async () => {
    const s = setup({STANDIN_PACKER_FAIL: '1'})
    try {
      const seen: Milestone[] = []
      await assert.rejects(build(s, 'qemu', seen), (e: unknown) => {
        assert.ok(e instanceof ImageError)
        assert.equal(e.code, 'NG1003')
        assert.match(e.message, /packer build failed for debian-12 \(qemu\) with exit 1: /)
        assert.match(e.message, /E: Unable to locate package kubelet/)
        assert.match(e.message, /Script exited with non-zero exit status: 100/)
        assert.ok(e.message.includes(path.join(path.resolve(s.buildDir), 'packer.log')))
        return true
      })
      assert.deepEqual(seen, ['start', 'connect', 'files', 'packages'])
      assert.equal(existsSync(path.join(s.state, 'images.json')), false)
    } finally {
      clearEnv()
    }
  })

  it('a build without a manifest artifact is an error, not a record', async () => {
    const s = setup({STANDIN_PACKER_NO_MANIFEST: '1'})
    try {
      await assert.rejects(build(s, 'amazon-ebs'), /NG1004|has no artifact for debian-12 \(amazon-ebs\): ENOENT/)
    } finally {
      clearEnv()
    }
  })

  it('googlecompute without a project stops before Packer runs', async () => {
    const s = setup()
    try {
      await assert.rejects(
        build(s, 'googlecompute'),
        /needs a Google Cloud project \(spec\.platform\.gcp\.project\): set it in the profile or pass --var gcp_project_id=VALUE/,
      )
      assert.deepEqual(
        calls(s.log).map((x) => x[1]),
        ['version'],
      )
    } finally {
      clearEnv()
    }
  })
})

describe('nodegen image build (built CLI, stand-in packer)', () => {
  it('prints one line per milestone off a terminal, and the record with --json', () => {
    const s = setup()
    clearEnv()
    const env = {PATH, STANDIN_PACKER_LOG: s.log}
    const r = nodegen(
      [
        'image',
        'build',
        fixtureProfilePath('quickstart'),
        '--os',
        'almalinux-9',
        '--builder',
        'qemu',
        '--state',
        s.state,
        '--build-dir',
        s.buildDir,
      ],
      env,
    )
    assert.equal(r.status, 0, r.stderr)
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('image almalinux-9/qemu: '))
    assert.deepEqual(
      lines.slice(1, 9).map((l) => l.replace(/^image almalinux-9\/qemu: /, '')),
      ['start (1/8)', 'connect (2/8)', 'files (3/8)', 'packages (4/8)', 'images (5/8)', 'marker (6/8)', 'cleanup (7/8)', 'save (8/8)'],
    )
    assert.match(lines.at(-1) ?? '', /image\.qcow2 recorded in /)
    const j = nodegen(
      [
        'image',
        'build',
        fixtureProfilePath('quickstart'),
        '--os',
        'almalinux-9',
        '--builder',
        'amazon-ebs',
        '--state',
        s.state,
        '--build-dir',
        `${s.buildDir}-aws`,
        '--json',
      ],
      env,
    )
    assert.equal(j.status, 0, j.stderr)
    const out = JSON.parse(j.stdout)
    assert.equal(out.record.artifact.ami, 'ami-0123456789abcdef0')
    assert.equal(out.records.length, 2)
    assert.equal(j.stderr, '')

    // render finds the recorded qcow2 for the (nocloud, AlmaLinux) nodes and writes it into cluster.json
    const out2 = path.join(s.dir, 'out')
    const rr = nodegen(['render', fixtureProfilePath('quickstart'), '--state', s.state, '-o', out2, '--media', 'none'], env)
    assert.equal(rr.status, 0, rr.stderr)
    const cluster = JSON.parse(readFileSync(path.join(out2, 'cluster.json'), 'utf8'))
    const qcow = path.join(
      path.resolve(s.buildDir),
      readdirSync(s.buildDir).find((d) => d.startsWith('output-qemu-')) ?? '?',
      'image.qcow2',
    )
    for (const n of cluster.nodes) assert.equal(n.image, qcow, n.name)
  })

  it('without packer: a clear error that says how to install it', () => {
    const empty = path.join(tmp, 'empty-bin')
    mkdirSync(empty, {recursive: true})
    const r = nodegen(['image', 'build', '--os', 'debian-12', '--builder', 'qemu', '--state', path.join(tmp, 'nostate')], {PATH: empty})
    assert.equal(r.status, 1)
    assert.match(
      oneLine(r.stderr),
      /NG1001: packer is not installed \(not found on PATH\): install it from https:\/\/developer\.hashicorp\.com\/packer\/install/,
    )
    assert.match(oneLine(r.stderr), /apt-get install packer/)
    assert.equal(existsSync(path.join(tmp, 'nostate')), false, 'nothing is created')
  })

  it('a failed build exits 1 with the reason', () => {
    const s = setup()
    clearEnv()
    const r = nodegen(
      [
        'image',
        'build',
        fixtureProfilePath('quickstart'),
        '--os',
        'debian-12',
        '--builder',
        'qemu',
        '--state',
        s.state,
        '--build-dir',
        s.buildDir,
      ],
      {PATH, STANDIN_PACKER_LOG: s.log, STANDIN_PACKER_FAIL: '1'},
    )
    assert.equal(r.status, 1)
    assert.match(oneLine(r.stderr), /NG1003: packer build failed for debian-12 \(qemu\) with exit 1: .*Unable to locate package kubelet/)
  })
})
