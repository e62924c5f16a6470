/**
 * The real bake: `nodegen image build --os debian-12 --builder qemu` runs the real Packer (Debian's
 * 1.6.6) under software emulation on a local Debian 12 cloud-style disk (test/vm-image/build.sh's
 * `packer` flavour: the real-cluster test's plain image plus openssh-server and sudo), booted with
 * its kernel and initrd through the template's qemu_args, since the test images have no bootloader.
 * The package step installs from the air-gap bundle of scripts/build-bundle.sh (Debian's packages and
 * packages made from the real Kubernetes binaries), which Packer's own HTTP server serves to the
 * build VM (qemu_bundle_directory); the images step imports the bundle's OCI archives.
 *
 * Then a control plane and a worker of a profile with `spec.image.baked: true` boot the baked qcow2
 * with the seeds the built CLI renders, and reach Ready with the real kubeadm, with nothing serving
 * the bundle on their segment: no package is installed at boot (their consoles and, afterwards,
 * their disks' dpkg logs say so) and no image is imported. A node of the same profile at another
 * Kubernetes version is refused by the baked image at its packages phase.
 *
 * The bake time and each node's power-on-to-ready time are printed and written to test-results/bake/
 * (NODEGEN_BAKE_OUT overrides the folder). Its own npm script (`npm run test:bake`): under software
 * emulation the bake alone takes tens of minutes.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {
  bootNode,
  type ClusterNode,
  endpointReady,
  milestones,
  profileNodes,
  sha256File,
  Timeline,
  waitForReady,
  waitNodesReady,
} from '../e2e/cluster.js'
import {builtCli, nodegen} from '../support/cli.js'
import {buildArtifacts} from '../support/kube-artifacts.js'
import {requireKubeCommand} from '../support/kubernetes.js'
import {REPO_ROOT} from '../support/profiles.js'
import {ensureVmImage, randomMcastGroup, type VmImage, vmToolsMissing} from '../support/qemu.js'
import {SegmentProbe, segmentProbeUnavailable} from '../support/segment.js'
import {findTool} from '../support/tools.js'

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures')
const OUT = process.env.NODEGEN_BAKE_OUT ?? path.join(REPO_ROOT, 'test-results', 'bake')
const VERSION = '1.34.2'
const OTHER_VERSION = '1.33.5'
const VIP = '10.31.0.100'
const ENDPOINT = `${VIP}:6443`
const PROBE_IP = '10.31.0.250'
/** The profile's bundle URL: the probe's address, where nothing listens while the nodes boot. */
const BUNDLE_URL = `http://${PROBE_IP}:8080/`
const BAKE_S = Number(process.env.NODEGEN_BAKE_BUILD_S ?? 75 * 60)
const BRING_UP_S = Number(process.env.NODEGEN_BAKE_BRINGUP_S ?? 45 * 60)
const KERNEL_ARGS = 'root=/dev/vda rw console=ttyS0 net.ifnames=0 biosdevname=0'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-bake-'))
const cleanups: Array<() => void> = []
after(() => {
  for (const c of cleanups.reverse()) c()
  if (!process.env.NODEGEN_BAKE_KEEP) rmSync(tmp, {recursive: true, force: true})
})

const missing = [...vmToolsMissing(), ...['packer', 'xorriso', 'curl', 'ip'].filter((t) => !findTool(t))]
const probeMissing = segmentProbeUnavailable()
const skipReason = missing.length > 0 ? `missing ${missing.join(', ')} (npm run test:tools)` : probeMissing
const skip = skipReason && !process.env.CI ? skipReason : false

/** Runs the built CLI without blocking the event loop; its output goes to `log`. */
function nodegenAsync(args: string[], log: string, timeoutMs: number): Promise<{status: number; output: string}> {
  return new Promise((resolve) => {
    const out = createWriteStream(log)
    let output = ''
    const p = spawn(process.execPath, [builtCli(), ...args], {
      env: {...process.env, NODEGEN_PKI_PASSPHRASE: ''},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const take = (d: Buffer) => {
      output += d.toString()
      out.write(d)
    }
    p.stdout.on('data', take)
    p.stderr.on('data', take)
    const timer = setTimeout(() => p.kill('SIGTERM'), timeoutMs)
    p.on('close', (code) => {
      clearTimeout(timer)
      out.end(() => resolve({status: code ?? -1, output}))
    })
  })
}

/** The profile with the bundle's URL and pin filled in, and `version` as its Kubernetes version. */
function writeProfile(dir: string, bundle: string, version = VERSION): string {
  mkdirSync(dir, {recursive: true})
  const profile = path.join(dir, 'baked-debian.yaml')
  writeFileSync(
    profile,
    readFileSync(path.join(FIXTURES, 'baked-debian.yaml'), 'utf8')
      .replace('bundle: BUNDLE_URL', `bundle: ${BUNDLE_URL}`)
      .replace('sha256: BUNDLE_SHA256', `sha256: ${sha256File(path.join(bundle, 'SHA256SUMS'))}`)
      .replace(`version: ${VERSION}`, `version: ${version}`),
  )
  copyFileSync(path.join(bundle, 'cni', 'kube-flannel.yml'), path.join(dir, 'kube-flannel.yml'))
  return profile
}

/** dpkg.log's `YYYY-MM-DD HH:MM:SS` stamps as ISO times. */
function dpkgStamps(log: string): string[] {
  return log
    .split('\n')
    .filter((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /.test(l))
    .map((l) => `${l.slice(0, 10)}T${l.slice(11, 19)}Z`)
}

describe('the real bake: Packer bakes a Debian 12 node image here, and nodes boot it to Ready', {skip, timeout: 180 * 60_000}, () => {
  it('bakes from the air-gap bundle, records the artifact; a control plane and a worker come up Ready on it', {
    timeout: 175 * 60_000,
  }, async (t) => {
    if (skipReason) throw new Error(`${skipReason}; under CI=true this is a failure, not a skip`)
    const started = Date.now()
    const bundle = buildArtifacts(t, 'build-bundle.sh')
    const kubectl = requireKubeCommand(t, 'kubectl', VERSION)
    const source = ensureVmImage('packer')
    t.diagnostic(`artifacts and source image ready after ${((Date.now() - started) / 1000).toFixed(0)} s`)
    mkdirSync(OUT, {recursive: true})

    const dir = path.join(tmp, 'render')
    const profile = writeProfile(dir, bundle)
    const state = path.join(dir, 'state')
    const buildDir = path.join(tmp, 'build')
    const timeline = new Timeline()

    // The bake, with the real Packer: the source disk, its kernel, and the bundle from this machine.
    const qemuArgs = [
      ['-kernel', source.kernel],
      ['-initrd', source.initrd],
      ['-append', KERNEL_ARGS],
      ['-serial', `file:${path.join(OUT, 'bake-console.log')}`],
    ]
    const bakeLog = path.join(OUT, 'bake.log')
    timeline.add('bake', 'nodegen image build starts')
    const bakeStart = Date.now()
    const bake = await nodegenAsync(
      [
        'image',
        'build',
        '--os',
        'debian-12',
        '--builder',
        'qemu',
        profile,
        '--state',
        state,
        '--build-dir',
        buildDir,
        '--var',
        'qemu_accelerator=tcg',
        '--var',
        `qemu_image_url=${source.disk}`,
        '--var',
        'qemu_image_checksum=none',
        '--var',
        `qemu_bundle_directory=${bundle}`,
        '--var',
        `qemu_args=${JSON.stringify(qemuArgs)}`,
        '--json',
      ],
      bakeLog,
      BAKE_S * 1000,
    )
    const bakeSeconds = (Date.now() - bakeStart) / 1000
    timeline.add('bake', `nodegen image build exits ${bake.status} after ${bakeSeconds.toFixed(0)} s`)
    if (existsSync(path.join(buildDir, 'packer.log'))) copyFileSync(path.join(buildDir, 'packer.log'), path.join(OUT, 'packer.log'))
    assert.equal(bake.status, 0, `the bake failed; see ${bakeLog} and ${path.join(OUT, 'bake-console.log')}:\n${bake.output.slice(-3000)}`)
    const packerLog = readFileSync(path.join(buildDir, 'packer.log'), 'utf8')
    for (const step of ['files', 'packages', 'images', 'marker', 'cleanup'])
      assert.match(packerLog, new RegExp(`nodegen-image: step ${step}: done`), `bake step ${step} did not finish`)
    assert.match(packerLog, /installing from the air-gap bundle at http:\/\/10\.0\.2\.2:\d+\//)
    assert.match(packerLog, /install-packages: runtime containerd and Kubernetes 1\.34\.2 installed/)
    assert.match(packerLog, /imported \d+ image\(s\) from the air-gap bundle/)

    // The artifact, recorded in the state.
    const records = JSON.parse(readFileSync(path.join(state, 'images.json'), 'utf8')) as {
      images: Array<{os: string; builder: string; artifact: {path: string}; kubernetesVersion: string; packerVersion: string}>
    }
    const record = records.images.find((r) => r.os === 'debian-12' && r.builder === 'qemu')
    assert.ok(record, `no debian-12/qemu record in images.json: ${JSON.stringify(records)}`)
    assert.equal(record.kubernetesVersion, VERSION)
    assert.ok(existsSync(record.artifact.path), `the recorded qcow2 ${record.artifact.path} is not there`)
    const baked: VmImage = {disk: record.artifact.path, kernel: source.kernel, initrd: source.initrd, format: 'qcow2'}
    timeline.add('bake', `artifact ${record.artifact.path} recorded (Packer ${record.packerVersion})`)

    // Render: the seeds of a baked profile carry no package step; render finds the recorded image.
    const isoDir = path.join(dir, 'out')
    const r = nodegen(['render', profile, '-o', isoDir, '--state', state, '--media', 'iso'])
    assert.equal(r.status, 0, `nodegen render failed: ${r.stderr}`)
    assert.doesNotMatch(r.stderr, /no qemu image of debian-12 is recorded/)
    const cluster = JSON.parse(readFileSync(path.join(isoDir, 'cluster.json'), 'utf8'))
    assert.match(
      JSON.stringify(cluster),
      new RegExp(path.basename(record.artifact.path).replace(/\./g, '\\.')),
      'cluster.json names the baked image',
    )
    const adminConf = path.join(isoDir, 'admin.conf')
    const clusterCa = path.join(state, 'pki', 'ca.crt')

    const specs = profileNodes(profile)
    const group = randomMcastGroup()
    const probe = new SegmentProbe(group, `${PROBE_IP}/24`)
    cleanups.push(() => probe.stop())
    await probe.start()
    timeline.add('probe', `on the segment at ${PROBE_IP}; nothing serves the bundle (${BUNDLE_URL})`)

    const nodes: ClusterNode[] = specs.map((s) =>
      bootNode(s, {
        image: baked,
        group,
        isoDir,
        memMb: s.role === 'control-plane' ? 2048 : 1536,
        smp: (n) => (n.role === 'control-plane' ? 2 : 1),
        nice: (n) => (n.role === 'control-plane' ? 0 : 4),
      }),
    )
    cleanups.push(() => {
      for (const n of nodes) if (!process.env.NODEGEN_BAKE_KEEP) n.vm.cleanup()
      for (const n of nodes) n.vm.kill()
    })
    for (const n of nodes) timeline.add(n.label, 'qemu started (power on)', n.vm.startedAt)
    const bootedAt = Date.now()

    let endpointFirstOk: number | undefined
    const tick = async () => {
      if (endpointFirstOk === undefined && (await endpointReady(probe, ENDPOINT, clusterCa))) {
        endpointFirstOk = Date.now()
        timeline.add('probe', `https://${ENDPOINT}/readyz answers ok (TLS verified against the cluster CA)`)
      }
    }
    const readyAfter: Record<string, number> = {}
    const report = (title: string) => {
      for (const n of nodes) {
        n.poll()
        writeFileSync(path.join(OUT, `${n.spec.name}-console.log`), n.vm.lines().join('\n'))
        const ready = n.outcome()
        if (ready?.state === 'ready') readyAfter[n.spec.name] = (ready.line.t - n.vm.startedAt) / 1000
      }
      const text = timeline.write(OUT, 'real-bake-timeline', title, {
        group,
        nodes: specs,
        bakeSeconds,
        readySeconds: readyAfter,
        totalSeconds: (Date.now() - started) / 1000,
      })
      process.stdout.write(`\n${text}\nbake: ${bakeSeconds.toFixed(0)} s; power-on to ready: ${JSON.stringify(readyAfter)}\n`)
    }

    try {
      await waitForReady(nodes, timeline, BRING_UP_S * 1000, tick)
      const k = (args: string[]) => probe.exec(kubectl, ['--kubeconfig', adminConf, '--request-timeout=20s', ...args], 30_000)
      const notReady = await waitNodesReady(
        k,
        specs.map((s) => s.name),
        timeline,
      )
      assert.deepEqual(notReady, [], `nodes not Ready: ${notReady.join(', ')}`)

      // Nothing installed or imported at boot: the consoles say so.
      for (const n of nodes) {
        assert.ok(
          n.first(/baked image \(\/etc\/nodegen\/image\.json\): packages present, installation skipped/),
          `${n.label}: packages not skipped`,
        )
        assert.ok(
          n.first(/baked image: the images of the air-gap bundle \S+ are in the image, import skipped/),
          `${n.label}: images not skipped`,
        )
        assert.equal(n.first(/install-packages: /), undefined, `${n.label} ran install-packages`)
        assert.equal(n.first(/bundle: /), undefined, `${n.label} read the bundle`)
      }
      report('real bake timeline (baked nodes ready)')
    } catch (e) {
      report('real bake timeline (FAILED)')
      throw e
    }
    for (const n of nodes) milestones(n, timeline)

    // ... and their disks: dpkg wrote nothing after the bake's marker.
    for (const n of nodes) await n.vm.powerOff()
    for (const n of nodes) {
      const marker = JSON.parse(n.vm.readFile('/etc/nodegen/image.json') ?? '{}') as {built?: string; bundleSha256?: string}
      assert.ok(marker.built, `${n.label}: no baked-image marker on the disk`)
      const stamps = dpkgStamps(n.vm.readFile('/var/log/dpkg.log') ?? '')
      assert.ok(stamps.length > 0, `${n.label}: no dpkg.log (the bake installed nothing?)`)
      const late = stamps.filter((s) => s > (marker.built as string))
      assert.deepEqual(late, [], `${n.label}: dpkg ran after the bake (marker built ${marker.built})`)
      assert.ok(
        (n.vm.readFile('/var/log/nodegen/bootstrap.log') ?? n.vm.lines().join('\n')).includes('installation skipped'),
        `${n.label}: the bootstrap log does not say the packages were skipped`,
      )
    }
    timeline.add(
      'probe',
      `disks read: no package installed after the bake (${((Date.now() - bootedAt) / 1000).toFixed(0)} s after power-on)`,
    )

    // A node of the same cluster at another Kubernetes version: the baked image refuses it.
    const otherDir = path.join(tmp, 'other')
    const other = writeProfile(otherDir, bundle, OTHER_VERSION)
    const otherIso = path.join(otherDir, 'out')
    const ro = nodegen(['render', other, '-o', otherIso, '--state', path.join(otherDir, 'state'), '--media', 'iso', '--node', 'baked-cp-0'])
    assert.equal(ro.status, 0, `nodegen render (${OTHER_VERSION}) failed: ${ro.stderr}`)
    const spec = specs.find((s) => s.role === 'control-plane')
    assert.ok(spec)
    const refused = bootNode(spec, {image: baked, group: randomMcastGroup(), isoDir: otherIso, memMb: 1536}, 'mismatch')
    cleanups.push(() => refused.vm.cleanup())
    await refused.vm.waitFor(/nodegen: baked-cp-0 control-plane (failed at .*|ready)/, 20 * 60_000)
    refused.poll()
    writeFileSync(path.join(OUT, 'mismatch-console.log'), refused.vm.lines().join('\n'))
    const line = refused.first(/nodegen: baked-cp-0 control-plane failed at/)
    assert.ok(line, `the mismatched node did not fail: ${refused.vm.tail()}`)
    assert.match(
      line.line,
      new RegExp(
        `failed at packages: this image was baked for Kubernetes ${VERSION.replace(/\./g, '\\.')} but the profile asks for ${OTHER_VERSION.replace(/\./g, '\\.')}`,
      ),
    )
    timeline.add('mismatch', line.line.replace(/^.*nodegen: /, ''))
    report('real bake timeline (baked nodes ready, mismatch refused)')
  })
})
