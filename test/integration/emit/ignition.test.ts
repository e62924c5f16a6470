/**
 * Ignition for profiles/flatcar.yaml, checked by Ignition itself (Debian's package): every config
 * passes `ignition-validate`, and Ignition's own fetch-offline and files stages (`-platform file`)
 * run into a temporary root write every planned file with its mode, owner and content, the links,
 * directories, users' SSH keys, units, drop-ins and presets. Control planes get the CA keys 0600,
 * workers none. The sysext image is a remote file Ignition fetches; there is no internet here, so
 * the profile's mirror setting (spec.kubernetes.sysextRepository) points at a local HTTP server
 * that serves a small stand-in file, and the test checks Ignition fetched exactly those bytes.
 * Also: an over-budget config (EC2's 16 KB) becomes the ignition.config.replace wrapper, which the
 * real fetch stage resolves to the same files; and `render` writes config.ign, config drives and
 * bundles for Ignition nodes and refuses a NoCloud ISO.
 */
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it, type TestContext} from 'node:test'
import {RenderError, render, renderNode} from '../../../src/app/render.js'
import {fitIgnition, isBudgetProblem} from '../../../src/emit/budget.js'
import {buildIgnition, IGNITION_SPECS} from '../../../src/emit/ignition/index.js'
import {ignitionSpecFor} from '../../../src/plan/target.js'
import type {NodePlan} from '../../../src/plan/types.js'
import type {Cluster} from '../../../src/profile/index.js'
import {loadCluster, PROFILES_DIR} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {validateKubeDocuments} from '../../support/schemas.js'
import {requireTool, run, SkipSignal} from '../../support/tools.js'

const PROFILE = path.join(PROFILES_DIR, 'flatcar.yaml')
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-ignition-'))
// Ignition creates ~core/.ssh as core: every directory above the root must be traversable.
chmodSync(tmp, 0o755)
const SYSEXT_STANDIN = Buffer.from('nodegen test stand-in for kubernetes-v1.34.2-x86-64.raw\n')
let server: http.Server
let mirror = ''
const requests: string[] = []

before(async () => {
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '')
    if (req.url === '/kubernetes-v1.34.2-x86-64.raw') res.writeHead(200, {'content-length': SYSEXT_STANDIN.length}).end(SYSEXT_STANDIN)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
})
after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  rmSync(tmp, {recursive: true, force: true})
})

/** Ignition's binary: Debian ships it only inside its dracut module (`dpkg -L ignition`). */
function requireIgnition(t: TestContext): string {
  const listed = spawnSync('dpkg', ['-L', 'ignition'], {encoding: 'utf8'})
  const bin = listed.status === 0 ? listed.stdout.split('\n').find((l) => l.endsWith('/ignition') && !l.includes('/share/')) : undefined
  if (bin && existsSync(bin) && lstatSync(bin).isFile()) {
    // The files stage chroots to look users up and chowns what it writes.
    if (process.getuid?.() === 0) return bin
    const msg = "Ignition's files stage needs root (chroot, chown)"
    if (process.env.CI) throw new Error(`${msg}; under CI=true this is a failure, not a skip`)
    t.skip(msg)
    throw new SkipSignal(msg)
  }
  return requireTool(t, 'ignition')
}

/** The profile as a user points it at a sysext mirror: the local stand-in server. */
function mirroredCluster(): Cluster {
  const c = loadCluster(PROFILE)
  return {...c, kubernetes: {...c.kubernetes, sysextRepository: mirror.replace(/\/$/, '')}}
}

async function mirroredSeeds() {
  const r = await renderProfile(PROFILE)
  const cluster = mirroredCluster()
  return {r, cluster, seeds: cluster.nodes.map((n) => renderNode(cluster, n, r.material, undefined))}
}

function ignitionOf(seed: ReturnType<typeof renderNode>): Buffer {
  assert.equal(seed.format, 'ignition', seed.plan.node)
  return seed.ignition as Buffer
}

/**
 * A Flatcar-shaped root: the passwd files with root and core (whose home core owns), glibc's
 * password lock file, and an SELinux config with a file_contexts for the relabel step Debian's
 * Ignition runs (Flatcar's root has both; setfiles is the real one from policycoreutils).
 */
function flatcarRoot(dir: string): string {
  const root = path.join(dir, 'root')
  mkdirSync(path.join(root, 'etc', 'selinux', 'mcs', 'contexts', 'files'), {recursive: true})
  writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:Flatcar Admin:/home/core:/bin/bash\n')
  writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\nsudo:x:150:core\ndocker:x:233:core\ncore:x:500:\n')
  writeFileSync(path.join(root, 'etc', 'shadow'), 'root:*:19000::::::\ncore:*:19000::::::\n', {mode: 0o600})
  writeFileSync(path.join(root, 'etc', 'gshadow'), 'root:*::\nsudo:*::core\ndocker:*::core\ncore:*::\n', {mode: 0o600})
  writeFileSync(path.join(root, 'etc', '.pwd.lock'), '', {mode: 0o600})
  writeFileSync(path.join(root, 'etc', 'selinux', 'config'), 'SELINUX=permissive\nSELINUXTYPE=mcs\n')
  writeFileSync(path.join(root, 'etc', 'selinux', 'mcs', 'contexts', 'files', 'file_contexts'), '/.*\tsystem_u:object_r:default_t:s0\n')
  mkdirSync(path.join(root, 'home', 'core'), {recursive: true})
  chownSync(path.join(root, 'home', 'core'), 500, 500)
  return root
}

/** Runs a command without blocking the event loop (the stand-in mirror answers from this process). */
function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{status: number; out: string}> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {env, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    p.stdout.on('data', (d) => {
      out += d
    })
    p.stderr.on('data', (d) => {
      out += d
    })
    p.on('error', reject)
    p.on('close', (code) => resolve({status: code ?? -1, out}))
  })
}

/** fetch-offline (reads IGNITION_CONFIG_FILE, resolves ignition.config.replace, caches) then files. */
async function runIgnition(bin: string, dir: string, config: Buffer): Promise<string> {
  const root = flatcarRoot(dir)
  const cfg = path.join(dir, 'config.ign')
  writeFileSync(cfg, config)
  const common = [
    '-platform',
    'file',
    '-config-cache',
    path.join(dir, 'cache.json'),
    '-state-file',
    path.join(dir, 'state'),
    '-log-to-stdout',
  ]
  const env = {...process.env, IGNITION_CONFIG_FILE: cfg}
  const quiet = (s: string) =>
    s
      .split('\n')
      .filter((l) => !l.startsWith('DEBUG'))
      .join('\n')
  const fetch = await runAsync(bin, [...common, '-stage', 'fetch-offline', '-neednet', path.join(dir, 'neednet')], env)
  assert.equal(fetch.status, 0, `fetch-offline: ${quiet(fetch.out)}`)
  const files = await runAsync(bin, [...common, '-stage', 'files', '-root', root, '-fetch-timeout', '30s'], env)
  assert.equal(files.status, 0, `files: ${quiet(files.out)}`)
  return root
}

/** Every planned file, directory, link, key, unit, drop-in and preset, as Ignition left them. */
function assertPlanApplied(root: string, plan: NodePlan): void {
  const at = (p: string) => path.join(root, p)
  for (const f of plan.files) {
    const st = lstatSync(at(f.path))
    assert.ok(st.isFile(), `${plan.node}: ${f.path} is not a file`)
    assert.equal(st.mode & 0o7777, f.mode, `${plan.node}: ${f.path} mode ${(st.mode & 0o7777).toString(8)}`)
    assert.equal(f.owner, 'root:root')
    assert.equal(`${st.uid}:${st.gid}`, '0:0', `${plan.node}: ${f.path} owner`)
    const want = f.remote ? SYSEXT_STANDIN : Buffer.from(f.content)
    assert.ok(readFileSync(at(f.path)).equals(want), `${plan.node}: ${f.path} content`)
  }
  assert.equal(readFileSync(at('/etc/hostname'), 'utf8'), `${plan.hostname}\n`)
  const network = readFileSync(at('/etc/systemd/network/00-nodegen.network'), 'utf8')
  assert.ok(plan.network)
  assert.match(network, new RegExp(`^Address=${plan.network.address}/${plan.network.prefix}$`, 'm'))
  assert.match(network, new RegExp(`^Gateway=${plan.network.gateway}$`, 'm'))
  assert.match(network, new RegExp(`^Name=${plan.network.interface}$`, 'm'))
  for (const d of plan.directories) {
    const st = lstatSync(at(d.path))
    assert.ok(st.isDirectory(), d.path)
    assert.equal(st.mode & 0o7777, d.mode, `${plan.node}: ${d.path} mode`)
  }
  for (const l of plan.links) assert.equal(readlinkSync(at(l.path)), l.target, l.path)
  for (const u of plan.users) {
    const keys = readFileSync(at(`/home/${u.name}/.ssh/authorized_keys.d/ignition`), 'utf8')
    for (const k of u.sshAuthorizedKeys) assert.ok(keys.includes(k), `${plan.node}: ${u.name} lacks a key`)
  }
  // core keeps the groups Flatcar gave it: Ignition's usermod --groups would have replaced them.
  assert.match(readFileSync(at('/etc/group'), 'utf8'), /^docker:x:233:core$/m)
  const preset = readFileSync(at('/etc/systemd/system-preset/20-ignition.preset'), 'utf8')
  for (const u of plan.units) {
    if (u.content !== undefined) assert.equal(readFileSync(at(`/etc/systemd/system/${u.name}`), 'utf8'), u.content, u.name)
    for (const d of u.dropIns) assert.equal(readFileSync(at(`/etc/systemd/system/${u.name}.d/${d.name}`), 'utf8'), d.content)
    assert.equal(preset.includes(`enable ${u.name}\n`), u.enabled, `${plan.node}: preset for ${u.name}`)
  }
}

function keysUnder(root: string, dir: string): string[] {
  const base = path.join(root, dir)
  if (!existsSync(base)) return []
  return readdirSync(base, {recursive: true, encoding: 'utf8'}).filter((f) => f.endsWith('.key'))
}

describe('Ignition for profiles/flatcar.yaml', () => {
  it('every config passes ignition-validate', async (t) => {
    const validate = requireTool(t, 'ignition-validate')
    const {r, seeds} = await mirroredSeeds()
    for (const seed of [...r.nodes, ...seeds]) {
      const f = path.join(tmp, `validate-${seed.plan.node}.ign`)
      writeFileSync(f, ignitionOf(seed))
      const out = run(validate, [f], {allowFail: true})
      assert.equal(out.status, 0, `${seed.plan.node}: ${out.stdout}${out.stderr}`)
      assert.equal(out.stdout + out.stderr, '', `${seed.plan.node}: warnings: ${out.stdout}${out.stderr}`)
    }
  })

  it("Ignition's files stage writes every planned file, mode and owner, and enables the planned units", async (t) => {
    const bin = requireIgnition(t)
    requireTool(t, 'setfiles')
    const {seeds} = await mirroredSeeds()
    requests.length = 0
    for (const seed of seeds) {
      const dir = path.join(tmp, `files-${seed.plan.node}`)
      mkdirSync(dir)
      const root = await runIgnition(bin, dir, ignitionOf(seed))
      assertPlanApplied(root, seed.plan)
      const keys = keysUnder(root, 'etc/kubernetes/pki')
      if (seed.plan.role === 'control-plane') {
        for (const k of ['ca.key', 'front-proxy-ca.key', 'sa.key', 'etcd/ca.key']) {
          assert.ok(keys.includes(k), `${seed.plan.node} lacks ${k}`)
          assert.equal(lstatSync(path.join(root, 'etc/kubernetes/pki', k)).mode & 0o777, 0o600, k)
        }
        assert.equal(lstatSync(path.join(root, 'etc/nodegen/calendar.env')).mode & 0o777, 0o600)
      } else {
        assert.deepEqual(keys, [], `${seed.plan.node} (worker) carries CA keys`)
        assert.ok(!existsSync(path.join(root, 'etc/nodegen/calendar.env')), `${seed.plan.node} (worker) carries the calendar`)
      }
      assert.ok(!existsSync(path.join(root, 'usr')), `${seed.plan.node}: Ignition wrote under /usr, which Flatcar mounts read-only`)
    }
    assert.equal(requests.filter((u) => u === '/kubernetes-v1.34.2-x86-64.raw').length, seeds.length, 'each node fetched the sysext once')
  })

  it('over the EC2 budget a config becomes an ignition.config.replace wrapper that Ignition resolves to the same files', async (t) => {
    const validate = requireTool(t, 'ignition-validate')
    const bin = requireIgnition(t)
    requireTool(t, 'setfiles')
    const {cluster, seeds} = await mirroredSeeds()
    const spec = ignitionSpecFor(cluster)
    const seed = seeds.find((s) => s.plan.role === 'worker')
    assert.ok(seed)
    const plan = {...seed.plan, sizeBudget: 16384}
    const raw = ignitionOf(seed)
    assert.ok(raw.length > 16384, `the worker's config is ${raw.length} bytes; this test needs one over budget`)
    const fitted = fitIgnition(raw, plan, spec)
    assert.ok(!isBudgetProblem(fitted), JSON.stringify(fitted))
    assert.equal(fitted.encoding, 'gzip-replace')
    assert.ok(fitted.size <= 16384 && fitted.data.length === fitted.size)
    const wrapper = JSON.parse(fitted.data.toString())
    assert.deepEqual(Object.keys(wrapper), ['ignition'])
    assert.equal(wrapper.ignition.config.replace.compression, 'gzip')
    assert.match(wrapper.ignition.config.replace.source, /^data:;base64,/)
    const f = path.join(tmp, 'wrapper.ign')
    writeFileSync(f, fitted.data)
    const v = run(validate, [f], {allowFail: true})
    assert.equal(v.status, 0, v.stdout + v.stderr)
    const dir = path.join(tmp, 'wrapped')
    mkdirSync(dir)
    assertPlanApplied(await runIgnition(bin, dir, fitted.data), plan)
    // A control plane carrying its CA keys inline does not fit even wrapped (on AWS the keys come
    // from the secret backend instead): a budget problem naming the largest parts, not a config.
    const cp = seeds.find((s) => s.plan.role === 'control-plane')
    assert.ok(cp)
    const over = fitIgnition(ignitionOf(cp), {...cp.plan, sizeBudget: 16384}, spec)
    assert.ok(isBudgetProblem(over))
    assert.ok(over.size > 16384 && over.largest.some((l) => l.path === '/opt/nodegen/bootstrap.sh'))
    // A config that fits stays as it is.
    const fits = fitIgnition(raw, {...plan, sizeBudget: 65536}, spec)
    assert.ok(!isBudgetProblem(fits) && fits.encoding === 'raw' && fits.data.equals(raw))
  })

  it("every node's kubeadm, kubelet and kube-proxy documents validate against the kube schemas in test/fixtures", async () => {
    const r = await renderProfile(PROFILE)
    let docs = 0
    for (const n of r.nodes)
      for (const f of n.plan.files.filter((x) => /\/kubeadm\/config(-next)?\.yaml$/.test(x.path)))
        for (const d of validateKubeDocuments(f.content)) {
          docs++
          assert.deepEqual(d.errors, [], `${n.plan.node} ${f.path} ${d.kind}`)
        }
    assert.ok(docs >= r.nodes.length)
  })

  it('spec.ignition.version selects 3.4.0 in one place; the body is the same as 3.3.0', async () => {
    const {r} = await renderProfile(PROFILE).then((r) => ({r}))
    const plan = r.nodes[0]?.plan as NodePlan
    const c34 = {...r.cluster, ignition: {version: '3.4.0' as const}}
    assert.equal(ignitionSpecFor(r.cluster).version, '3.3.0')
    assert.equal(ignitionSpecFor(c34), IGNITION_SPECS['3.4.0'])
    const v33 = buildIgnition(plan, ignitionSpecFor(r.cluster))
    const v34 = buildIgnition(plan, ignitionSpecFor(c34))
    assert.deepEqual((v34.ignition as {version: string}).version, '3.4.0')
    assert.deepEqual({...v34, ignition: v33.ignition}, v33)
    const seed = renderNode(c34, c34.nodes[0] as Cluster['nodes'][number], r.material, undefined)
    assert.equal(JSON.parse(ignitionOf(seed).toString()).ignition.version, '3.4.0')
  })
})

describe('render for Ignition nodes', () => {
  async function renderTo(media: 'configdrive' | 'bundle' | 'iso' | 'none', out: string) {
    const r = await renderProfile(PROFILE)
    return render({
      cluster: r.cluster,
      profilePath: PROFILE,
      outDir: out,
      material: r.material,
      adminConf: r.secrets.adminConf,
      media,
      epoch: 1_700_000_000,
    })
  }

  it('writes DIR/<node>/config.ign (0600 with secrets) and a config-2 drive whose user_data is that config', async (t) => {
    const isoinfo = requireTool(t, 'isoinfo')
    const out = path.join(tmp, 'out-configdrive')
    const result = await renderTo('configdrive', out)
    const {r} = {r: await renderProfile(PROFILE)}
    for (const [i, n] of result.nodes.entries()) {
      assert.equal(n.format, 'ignition')
      assert.deepEqual(n.artifacts, [`${n.name}/config.ign`, `${n.name}.iso`])
      const ign = readFileSync(path.join(out, n.name, 'config.ign'))
      assert.ok(ign.equals(ignitionOf(r.nodes[i] as ReturnType<typeof renderNode>)), n.name)
      assert.equal(lstatSync(path.join(out, n.name, 'config.ign')).mode & 0o777, 0o600)
      assert.ok(!existsSync(path.join(out, n.name, 'user-data')), 'no cloud-init user-data for an Ignition node')
      const iso = path.join(out, `${n.name}.iso`)
      assert.match(run(isoinfo, ['-d', '-i', iso]).stdout, /Volume id:\s*config-2/)
      assert.ok(run(isoinfo, ['-R', '-i', iso, '-x', '/openstack/latest/user_data']).stdoutBuf.equals(ign), `${n.name}: user_data`)
    }
  })

  it('a bundle carries <node>/config.ign', async (t) => {
    const tar = requireTool(t, 'tar')
    const out = path.join(tmp, 'out-bundle')
    await renderTo('bundle', out)
    const list = run(tar, ['-tzf', path.join(out, 'fc-worker-1.tar.gz')])
      .stdout.split('\n')
      .filter(Boolean)
    assert.deepEqual(list, ['fc-worker-1/config.ign'])
  })

  it('refuses a NoCloud ISO for Ignition nodes and writes nothing', async () => {
    const out = path.join(tmp, 'out-iso')
    await assert.rejects(renderTo('iso', out), (e: unknown) => {
      assert.ok(e instanceof RenderError)
      assert.match(e.message, /fc-cp-1, .* boot with Ignition, which does not read a NoCloud \(cidata\) ISO: use --media configdrive/)
      return true
    })
    assert.ok(!existsSync(out))
  })
})
