/**
 * The containerd pin, judged by the real apt: nodegen's own install-packages.sh runs unchanged on a
 * rendered Debian 12 node's parameters and repository lists, against repositories served on
 * loopback that hold a tiny fake `containerd.io` in several releases (the pinned one, a newer one
 * and one whose number is a prefix of the pin) besides fake Kubernetes and OS packages, all built
 * with dpkg-deb and signed with a key made for the test.
 *
 * The script runs as root in a private mount namespace in which /etc/apt, apt's and dpkg's state and
 * /var/log are scratch directories bound over the host's: apt and dpkg install into them (the fake
 * packages hold no files), and the host's package database and sources are untouched. Afterwards
 * dpkg says which containerd.io is installed and which packages are held.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it, type TestContext} from 'node:test'
import {REPO_ROOT} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {requireTool, run, SkipSignal} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-containerd-pin-'))
const www = path.join(tmp, 'www')
let server: Server | undefined
let base = ''
let reposReady = false

before(async () => {
  server = createServer((req, res) => {
    const file = path.join(www, decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/'))
    if (!file.startsWith(www)) {
      res.writeHead(400).end()
      return
    }
    try {
      res.writeHead(200).end(readFileSync(file))
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(() => {
  server?.close()
  rmSync(tmp, {recursive: true, force: true})
})

function requireRoot(t: TestContext): void {
  if (process.getuid?.() === 0) return
  if (process.env.CI) throw new Error('the containerd pin test needs root (a private mount namespace); under CI=true that is a failure')
  t.skip('needs root (a private mount namespace)')
  throw new SkipSignal('needs root')
}

/** The releases of the fake containerd.io the Docker repository offers: newer ones than the pin, and a prefix of it. */
const CONTAINERD_RELEASES = ['2.0.1-1', '2.0.11-1', '2.0.11-2', '2.3.4-1']

/** A package with a control file and no files, as dpkg-deb builds it. */
function fakeDeb(t: TestContext, dir: string, name: string, version: string): void {
  const dpkgDeb = requireTool(t, 'dpkg-deb')
  const root = path.join(tmp, 'build', `${name}_${version}`)
  mkdirSync(path.join(root, 'DEBIAN'), {recursive: true})
  writeFileSync(
    path.join(root, 'DEBIAN', 'control'),
    `Package: ${name}\nVersion: ${version}\nArchitecture: all\nMaintainer: nodegen tests <tests@nodegen.invalid>\nDescription: fake ${name} for the containerd pin test\n`,
  )
  mkdirSync(dir, {recursive: true})
  run(dpkgDeb, ['--build', '--root-owner-group', '-Zgzip', root, path.join(dir, `${name}_${version}_all.deb`)])
}

/**
 * Docker's repository (`linux/debian`, suite bookworm, component stable, key at `linux/debian/gpg`)
 * and a pkgs.k8s.io-style flat repository (`…/v1.34/deb/`, key at `Release.key`), both signed.
 */
function buildRepos(t: TestContext): void {
  if (reposReady) return
  const gpg = requireTool(t, 'gpg')
  const ftparchive = requireTool(t, 'apt-ftparchive')
  const gnupg = path.join(tmp, 'gnupg')
  mkdirSync(gnupg, {mode: 0o700})
  const env = {...process.env, GNUPGHOME: gnupg}
  run(gpg, ['--batch', '--passphrase', '', '--quick-gen-key', 'nodegen pin test <pin@test.invalid>', 'ed25519', 'sign', 'never'], {env})
  const key = run(gpg, ['--armor', '--export'], {env}).stdout
  const sign = (dir: string) => {
    run(gpg, ['--batch', '--yes', '--clearsign', '-o', path.join(dir, 'InRelease'), path.join(dir, 'Release')], {env})
  }

  const docker = path.join(www, 'docker', 'linux', 'debian')
  const pool = path.join(docker, 'pool', 'stable')
  for (const v of CONTAINERD_RELEASES) fakeDeb(t, pool, 'containerd.io', v)
  const dist = path.join(docker, 'dists', 'bookworm')
  mkdirSync(path.join(dist, 'stable', 'binary-amd64'), {recursive: true})
  writeFileSync(path.join(dist, 'stable', 'binary-amd64', 'Packages'), run(ftparchive, ['packages', 'pool'], {cwd: docker}).stdout)
  const releaseOpts = ['Origin=Docker', 'Suite=bookworm', 'Codename=bookworm', 'Components=stable', 'Architectures=amd64'].flatMap((o) => [
    '-o',
    `APT::FTPArchive::Release::${o}`,
  ])
  writeFileSync(path.join(dist, 'Release'), run(ftparchive, [...releaseOpts, 'release', '.'], {cwd: dist}).stdout)
  sign(dist)
  writeFileSync(path.join(docker, 'gpg'), key)

  // Everything else install-packages.sh asks apt for on a control plane without an endpoint.
  const k8s = path.join(www, 'k8s', 'v1.34', 'deb')
  for (const [name, version] of [
    ['kubelet', '1.34.2-1.1'],
    ['kubeadm', '1.34.2-1.1'],
    ['kubectl', '1.34.2-1.1'],
    ['chrony', '4.3-2'],
    ['openssl', '3.0.17-1'],
    ['conntrack', '1.4.7-1'],
    ['socat', '1.7.4.4-2'],
  ] as const)
    fakeDeb(t, k8s, name, version)
  writeFileSync(path.join(k8s, 'Packages'), run(ftparchive, ['packages', '.'], {cwd: k8s}).stdout)
  writeFileSync(path.join(k8s, 'Release'), run(ftparchive, ['release', '.'], {cwd: k8s}).stdout)
  sign(k8s)
  writeFileSync(path.join(k8s, 'Release.key'), key)
  reposReady = true
}

function profile(version?: string): string {
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: pin}
spec:
  kubernetes: {version: 1.34.2, packageRepository: "${base}/k8s/{channel}/{format}/"}
  os: debian-12
  containerRuntime: {type: containerd, dockerRepository: "${base}/docker"${version ? `, version: "${version}"` : ''}}
  networking: {cni: {type: flannel}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
`
}

// Inside the namespace: scratch apt and dpkg state over the host's, the rendered lists, then the
// real install-packages.sh; dpkg's view of the result goes to $OUT.
const SCRIPT = `set -eu
for d in etc-apt/sources.list.d etc-apt/apt.conf.d etc-apt/preferences.d etc-apt/trusted.gpg.d etc-apt/keyrings \\
  lib-apt/lists/partial cache-apt/archives/partial lib-dpkg/info lib-dpkg/updates lib-dpkg/triggers log; do
  mkdir -p "$SCRATCH/$d"
done
: >"$SCRATCH/etc-apt/sources.list"
: >"$SCRATCH/lib-dpkg/status"
: >"$SCRATCH/lib-dpkg/available"
cp "$LISTS"/*.list "$SCRATCH/etc-apt/sources.list.d/"
# apt's downloads run as _apt, which cannot enter the test's private temporary directory.
printf 'APT::Sandbox::User "root";\\nAcquire::Retries "0";\\n' >"$SCRATCH/etc-apt/apt.conf.d/00-test"
mount --bind "$SCRATCH/etc-apt" /etc/apt
mount --bind "$SCRATCH/lib-apt" /var/lib/apt
mount --bind "$SCRATCH/cache-apt" /var/cache/apt
mount --bind "$SCRATCH/lib-dpkg" /var/lib/dpkg
mount --bind "$SCRATCH/log" /var/log
set +e
bash "$INSTALL_SCRIPT" "$PARAMS" >"$OUT/install.log" 2>&1
echo $? >"$OUT/rc"
set -e
dpkg-query -W -f '\${Package} \${Version} \${Status}\\n' >"$OUT/installed" 2>/dev/null || true
apt-mark showhold >"$OUT/held" 2>/dev/null || true
`

interface Install {
  code: number
  log: string
  /** package → version, of the installed ones */
  installed: Map<string, string>
  held: string[]
  env: string
}

async function install(t: TestContext, name: string, version?: string): Promise<Install> {
  requireRoot(t)
  for (const tool of ['unshare', 'mount', 'apt-get', 'dpkg-query', 'curl']) requireTool(t, tool)
  buildRepos(t)
  const dir = path.join(tmp, name)
  const lists = path.join(dir, 'lists')
  const out = path.join(dir, 'out')
  for (const d of [lists, out, path.join(dir, 'scratch')]) mkdirSync(d, {recursive: true})
  const file = path.join(dir, 'pin.yaml')
  writeFileSync(file, profile(version))
  const plan = (await renderProfile(file)).nodes[0]!.plan
  const content = (p: string) => {
    const f = plan.files.find((x) => x.path === p)
    assert.ok(f, `${p} is planned`)
    return f.content
  }
  for (const list of ['kubernetes.list', 'docker.list']) writeFileSync(path.join(lists, list), content(`/etc/apt/sources.list.d/${list}`))
  const env = content('/etc/nodegen/bootstrap.env')
  writeFileSync(path.join(dir, 'bootstrap.env'), env)
  // Asynchronously: the repositories are served by this process, which must stay free to answer.
  const r = await new Promise<{status: number | null; output: string}>((resolve, reject) => {
    const child = spawn('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', SCRIPT], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PATH: '/usr/bin:/bin:/usr/sbin:/sbin',
        SCRATCH: path.join(dir, 'scratch'),
        LISTS: lists,
        OUT: out,
        PARAMS: path.join(dir, 'bootstrap.env'),
        INSTALL_SCRIPT: path.join(REPO_ROOT, 'assets', 'bootstrap', 'install-packages.sh'),
        // The script keeps services down with a policy-rc.d while it installs: here, not the host's.
        NODEGEN_POLICY_RC: path.join(dir, 'policy-rc.d'),
      },
    })
    let output = ''
    child.stdout.on('data', (d) => {
      output += d
    })
    child.stderr.on('data', (d) => {
      output += d
    })
    child.on('error', reject)
    child.on('close', (status) => resolve({status, output}))
  })
  assert.equal(r.status, 0, `harness: ${r.output}`)
  const read = (f: string) => readFileSync(path.join(out, f), 'utf8')
  const installed = new Map<string, string>()
  for (const line of read('installed').split('\n')) {
    const [pkg, ver, ...status] = line.split(' ')
    if (pkg && ver && status.join(' ').endsWith('ok installed')) installed.set(pkg, ver)
  }
  return {code: Number(read('rc').trim()), log: read('install.log'), installed, held: read('held').split('\n').filter(Boolean), env}
}

describe('containerd.io is installed at the pinned release and held (real apt)', () => {
  it('the default for Kubernetes 1.34: 2.0.11, its newest packaging revision, not the newest containerd.io', async (t) => {
    const r = await install(t, 'default')
    assert.match(r.env, /^CONTAINERD_VERSION=2\.0\.11$/m)
    assert.equal(r.code, 0, r.log)
    assert.equal(r.installed.get('containerd.io'), '2.0.11-2', r.log)
    assert.equal(r.installed.get('kubelet'), '1.34.2-1.1')
    assert.deepEqual(r.held.sort(), ['containerd.io', 'kubeadm', 'kubectl', 'kubelet'])
    assert.match(r.log, /install-packages: runtime containerd 2\.0\.11 and Kubernetes 1\.34\.2 installed/)
  })

  it("a profile's version: exactly that release, even where another release's number starts with it", async (t) => {
    const r = await install(t, 'prefix', '2.0.1')
    assert.equal(r.code, 0, r.log)
    assert.equal(r.installed.get('containerd.io'), '2.0.1-1', r.log)
    assert.ok(r.held.includes('containerd.io'), r.held.join(' '))
  })

  it('a release the repository does not carry fails the install rather than taking another', async (t) => {
    const r = await install(t, 'missing', '2.0.9')
    assert.notEqual(r.code, 0, r.log)
    assert.match(r.log, /Version '2\.0\.9-\*' for 'containerd\.io' was not found/)
    assert.equal(r.installed.get('containerd.io'), undefined)
  })
})
