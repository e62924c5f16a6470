/**
 * `nodegen serve --bundle`: the real CLI on loopback serves an air-gap bundle at the path of the
 * profile's spec.airgap.bundle, judged by the real consumers: apt-get (reading only the bundle's
 * signed repositories, with the keys bundle.sh fetched and checked against the pin), curl (HEAD,
 * byte ranges, a resumed download, a large file streamed without the server holding it in memory)
 * and bundle.sh fetch. Refused: paths that climb out of the bundle however they are spelled
 * (`..`, `%2e%2e`, an encoded `/`), files beside the bundle's layout, symbolic links out of the
 * bundle (unless into a --bundle-link-root), methods other than GET and HEAD, a directory that is
 * no bundle or is the state; the seeds keep their tokens.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {bundleMount, bundleRelativePath, parseRange} from '../../../src/app/serve-bundle.js'
import {scratchApt} from '../../support/apt.js'
import {builtCli, type ServeProcess, serveCli} from '../../support/cli.js'
import {rawRequest} from '../../support/net.js'
import {REPO_ROOT} from '../../support/profiles.js'
import {requireTool, run, runAsync} from '../../support/tools.js'
import {freePort} from '../../support/upstream.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-serve-bundle-'))
const bundle = path.join(tmp, 'bundle')
const cache = path.join(tmp, 'cache')
const state = path.join(tmp, 'state')
const KUBE = 'kubernetes/core:/stable:/v1.34/deb'
/** Large enough that a server holding it whole would show in its peak memory. */
const BIG = 400 * 1024 * 1024
const children: ServeProcess[] = []

after(async () => {
  for (const c of children) await c.stop()
  rmSync(tmp, {recursive: true, force: true})
})

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

/** A signed flat repository in `dir` holding one package `name`. */
function flatRepo(dir: string, name: string, gnupg: string): void {
  mkdirSync(dir, {recursive: true})
  const pkg = path.join(tmp, 'pkg', name)
  mkdirSync(path.join(pkg, 'DEBIAN'), {recursive: true})
  writeFileSync(
    path.join(pkg, 'DEBIAN/control'),
    `Package: ${name}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: nodegen tests <tests@nodegen.invalid>\nDescription: ${name}\n probe package of the serve --bundle test\n`,
  )
  run('dpkg-deb', ['--root-owner-group', '--build', pkg, path.join(dir, `${name}_1.0-1_all.deb`)])
  writeFileSync(path.join(dir, 'Packages'), run('apt-ftparchive', ['packages', '.'], {cwd: dir}).stdout)
  writeFileSync(path.join(dir, 'Release'), run('apt-ftparchive', ['release', '.'], {cwd: dir}).stdout)
  run('gpg', ['--batch', '--yes', '--clearsign', '-o', path.join(dir, 'InRelease'), path.join(dir, 'Release')], {
    env: {...process.env, GNUPGHOME: gnupg},
  })
  writeFileSync(path.join(dir, 'Release.key'), run('gpg', ['--armor', '--export'], {env: {...process.env, GNUPGHOME: gnupg}}).stdout)
}

/**
 * The bundle: two signed repositories, an archive of random bytes, a large sparse archive, an archive
 * that is a link into the cache (as scripts/build-bundle.sh makes them), and what must never be
 * served: a link to a file outside, a key file beside the layout. Returns the pin.
 */
function writeBundle(): string {
  const gnupg = path.join(tmp, 'gnupg')
  mkdirSync(gnupg, {mode: 0o700})
  run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'serve bundle test <bundle@test.invalid>', 'ed25519', 'sign', 'never'], {
    env: {...process.env, GNUPGHOME: gnupg},
  })
  flatRepo(path.join(bundle, 'os/debian-12'), 'nodegen-probe-os', gnupg)
  flatRepo(path.join(bundle, KUBE), 'nodegen-probe-kube', gnupg)
  run('gpgconf', ['--kill', 'gpg-agent'], {env: {...process.env, GNUPGHOME: gnupg}, allowFail: true})
  writeFileSync(path.join(bundle, 'Release.key'), readFileSync(path.join(bundle, 'os/debian-12/Release.key')))
  mkdirSync(path.join(bundle, 'images'))
  writeFileSync(path.join(bundle, 'images/pause.tar'), Buffer.from(Array.from({length: 300_000}, (_, i) => (i * 7919) % 251)))
  const fd = openSync(path.join(bundle, 'images/big.tar'), 'w')
  ftruncateSync(fd, BIG)
  closeSync(fd)
  mkdirSync(cache)
  writeFileSync(path.join(cache, 'cached.tar'), 'an archive in the artifact cache\n')
  symlinkSync(path.join(cache, 'cached.tar'), path.join(bundle, 'images/cached.tar'))
  writeFileSync(path.join(tmp, 'secret.txt'), 'PRIVATE KEY of something\n')
  symlinkSync(path.join(tmp, 'secret.txt'), path.join(bundle, 'images/evil.tar'))
  symlinkSync('../../secret.txt', path.join(bundle, 'images/evil-relative.tar'))
  mkdirSync(path.join(bundle, 'bundle-gnupg'))
  writeFileSync(path.join(bundle, 'bundle-gnupg/secret.key'), 'PRIVATE KEY of the bundle\n')
  const listed = ['Release.key', `${KUBE}/Release.key`, 'os/debian-12/Release.key', 'images/pause.tar', 'images/cached.tar']
  const sums = listed.map((f) => `${sha256(readFileSync(path.join(bundle, f)))}  ${f}\n`).join('')
  writeFileSync(path.join(bundle, 'SHA256SUMS'), sums)
  return sha256(sums)
}

function profileText(port: number, pin: string): string {
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: island}
spec:
  kubernetes: {version: 1.34.2}
  os: debian-12
  networking: {cni: {type: flannel, manifestUrl: http://127.0.0.1:${port}/bundle/cni/kube-flannel.yml}}
  containerRuntime: {type: containerd, source: distribution}
  platform:
    type: pxe
    pxe:
      kernel:
        debian-12: {kernel: assets/vmlinuz, initrd: [assets/initrd.img]}
  airgap: {bundle: http://127.0.0.1:${port}/bundle/, sha256: ${pin}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24, mac: "52:54:00:00:00:10"}
`
}

/** `nodegen serve` (the built CLI) on loopback; resolves once it says it serves the bundle. */
async function startServe(args: string[]): Promise<ServeProcess> {
  const s = await serveCli(args, 'serving the air-gap bundle')
  children.push(s)
  return s
}

/** Peak resident memory of a process, in bytes (VmHWM). */
function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) * 1024
}

describe('the bundle path rules', () => {
  it('the mount is the path of spec.airgap.bundle, /bundle/ without one', () => {
    assert.equal(bundleMount('http://10.0.0.2:8080/bundle/'), '/bundle/')
    assert.equal(bundleMount('http://10.0.0.2:8080/srv/b'), '/srv/b/')
    assert.equal(bundleMount('http://10.0.0.2:8080/'), '/')
    assert.equal(bundleMount(undefined), '/bundle/')
  })
  it('only the layout, no segment that leaves it', () => {
    const b = {root: '/srv/b', prefix: '/bundle/', linkRoots: []}
    assert.equal(
      bundleRelativePath(b, '/bundle/kubernetes/core:/stable:/v1.34/deb/InRelease'),
      'kubernetes/core:/stable:/v1.34/deb/InRelease',
    )
    assert.equal(
      bundleRelativePath(b, '/bundle/kubernetes/core%3A/stable%3A/v1.34/rpm/repodata/repomd.xml'),
      'kubernetes/core:/stable:/v1.34/rpm/repodata/repomd.xml',
    )
    for (const bad of [
      '/bundle/',
      '/bundle/images/',
      '/bundle/images/..%2f..%2fsecret.txt',
      '/bundle/images/%2e%2e',
      '/bundle/images/a%5cb',
      '/bundle/images/a%00b',
      '/bundle/bundle-gnupg/secret.key',
      '/bundle/images',
      '/bundle/notes.txt',
      '/bundle/images/%zz',
    ])
      assert.equal(bundleRelativePath(b, bad), undefined, bad)
  })
  it('byte ranges: one range served, several the whole file, past the end unsatisfiable', () => {
    assert.deepEqual(parseRange('bytes=0-99', 1000), {start: 0, end: 99})
    assert.deepEqual(parseRange('bytes=900-', 1000), {start: 900, end: 999})
    assert.deepEqual(parseRange('bytes=-100', 1000), {start: 900, end: 999})
    assert.deepEqual(parseRange('bytes=990-2000', 1000), {start: 990, end: 999})
    assert.equal(parseRange('bytes=0-1,5-6', 1000), undefined)
    assert.equal(parseRange('items=0-1', 1000), undefined)
    assert.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable')
    assert.equal(parseRange('bytes=-0', 1000), 'unsatisfiable')
  })
})

describe('nodegen serve --bundle, judged by apt-get, curl and bundle.sh', {timeout: 600_000}, () => {
  let port = 0
  let base = ''
  let pin = ''
  let profile = ''
  let serve: ServeProcess | undefined

  before(async () => {
    pin = writeBundle()
    port = await freePort()
    base = `http://127.0.0.1:${port}`
    profile = path.join(tmp, 'island.yaml')
    writeFileSync(profile, profileText(port, pin))
  })

  it('serves the bundle without a token, and the seeds still need theirs', async (t) => {
    for (const tool of ['curl', 'apt-get', 'apt-ftparchive', 'dpkg-deb', 'gpg']) requireTool(t, tool)
    serve = await startServe([profile, '--listen', `127.0.0.1:${port}`, '--state', state, '--bundle', bundle, '--bundle-link-root', cache])
    assert.match(serve.output(), new RegExp(`serving the air-gap bundle ${bundle} at ${base}/bundle/`))
    const sums = await fetch(`${base}/bundle/SHA256SUMS`)
    assert.equal(sums.status, 200)
    assert.equal(sha256(Buffer.from(await sums.arrayBuffer())), pin)
    for (const p of ['/nocloud/52:54:00:00:00:10/user-data', '/ignition/52:54:00:00:00:10']) {
      const r = await fetch(`${base}${p}`)
      assert.notEqual(r.status, 200, p)
      assert.doesNotMatch(await r.text(), /PRIVATE KEY/)
    }
  })

  it('curl: HEAD with the Content-Length, byte ranges, a resumed download, 416 past the end', async (t) => {
    requireTool(t, 'curl')
    assert.ok(serve)
    const size = statSync(path.join(bundle, 'images/pause.tar')).size
    const url = `${base}/bundle/images/pause.tar`
    const head = run('curl', ['-sS', '-I', url]).stdout
    assert.match(head, /^HTTP\/1\.1 200 /)
    assert.match(head, new RegExp(`^content-length: ${size}\\r$`, 'mi'))
    assert.match(head, /^accept-ranges: bytes\r$/im)
    const whole = readFileSync(path.join(bundle, 'images/pause.tar'))
    const part = path.join(tmp, 'part')
    const r = run('curl', ['-sS', '-r', '1000-1999', '-o', part, '-w', '%{http_code} %{size_download}', url]).stdout
    assert.equal(r, '206 1000')
    assert.ok(readFileSync(part).equals(whole.subarray(1000, 2000)))
    const tail = run('curl', ['-sS', '-r', '-10', '-D', '-', '-o', part, url]).stdout
    assert.match(tail, new RegExp(`^content-range: bytes ${size - 10}-${size - 1}/${size}\\r$`, 'mi'))
    assert.ok(readFileSync(part).equals(whole.subarray(size - 10)))
    // A download cut short, resumed with -C - (a Range from where it stopped): the same bytes.
    const resumed = path.join(tmp, 'resumed.tar')
    writeFileSync(resumed, whole.subarray(0, 123_456))
    run('curl', ['-sS', '-f', '-C', '-', '-o', resumed, url])
    assert.equal(sha256(readFileSync(resumed)), sha256(whole))
    const past = run('curl', ['-sS', '-r', `${size}-`, '-o', '/dev/null', '-D', '-', url]).stdout
    assert.match(past, /^HTTP\/1\.1 416 /)
    assert.match(past, new RegExp(`^content-range: bytes \\*/${size}\\r$`, 'mi'))
  })

  it('streams a large archive: all of it, with the server never holding it in memory', async (t) => {
    requireTool(t, 'curl')
    assert.ok(serve?.child.pid)
    const before = peakRss(serve.child.pid)
    const r = await runAsync('curl', ['-sS', '-f', '-o', '/dev/null', '-w', '%{size_download}', `${base}/bundle/images/big.tar`])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(Number(r.stdout), BIG)
    const grew = peakRss(serve.child.pid) - before
    assert.ok(grew < BIG / 4, `the server's peak memory grew by ${Math.round(grew / 1048576)} MiB for a ${BIG / 1048576} MiB file`)
  })

  it('refuses whatever leaves the bundle or its layout, however the path is spelled', async () => {
    assert.ok(serve)
    for (const p of [
      '/bundle/../state/ca.key',
      '/bundle/%2e%2e/secret.txt',
      '/bundle/images/%2e%2e/%2e%2e/secret.txt',
      '/bundle/images/..%2f..%2fsecret.txt',
      '/bundle/images/evil.tar',
      '/bundle/images/evil-relative.tar',
      '/bundle/bundle-gnupg/secret.key',
      '/bundle/images/',
      '/bundle/',
    ]) {
      // Sent as written: no client normalises the path first.
      const answer = await rawRequest(port, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
      assert.match(answer, /^HTTP\/1\.1 404 /, `${p}: ${answer.slice(0, 200)}`)
      assert.doesNotMatch(answer, /PRIVATE KEY/, p)
    }
    // The link into the cache the operator named is served.
    const cached = await fetch(`${base}/bundle/images/cached.tar`)
    assert.equal(cached.status, 200)
    assert.equal(await cached.text(), 'an archive in the artifact cache\n')
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await fetch(`${base}/bundle/SHA256SUMS`, {method})
      assert.equal(r.status, 405, method)
      assert.equal(r.headers.get('allow'), 'GET, HEAD')
    }
  })

  it('bundle.sh fetch takes files from it, checked against the pin; apt installs from its repositories', async (t) => {
    for (const tool of ['curl', 'apt-get', 'sha256sum']) requireTool(t, tool)
    assert.ok(serve)
    const node = mkdtempSync(path.join(tmp, 'node-'))
    const params = path.join(node, 'bootstrap.env')
    writeFileSync(params, `BUNDLE_URL=${base}/bundle/\nBUNDLE_SHA256=${pin}\n`)
    const bundleSh = path.join(REPO_ROOT, 'assets/bootstrap/bundle.sh')
    const env = {...process.env, NODEGEN_ROOT: node}
    const keys = {os: path.join(node, 'bundle.asc'), kube: path.join(node, 'kubernetes.asc')}
    for (const [rel, dest] of [
      ['os/debian-12/Release.key', keys.os],
      [`${KUBE}/Release.key`, keys.kube],
      ['images/pause.tar', path.join(node, 'pause.tar')],
      ['images/cached.tar', path.join(node, 'cached.tar')],
    ] as const) {
      const r = await runAsync('bash', [bundleSh, params, 'fetch', rel, dest], {env})
      assert.equal(r.status, 0, `${rel}: ${r.stderr}`)
      assert.ok(readFileSync(dest).equals(readFileSync(path.join(bundle, rel))), rel)
    }
    for (const key of Object.values(keys))
      run('gpg', ['--batch', '--yes', '--dearmor', '-o', `${key}.gpg`, key], {env: {...process.env, GNUPGHOME: node}})
    const apt = scratchApt(tmp, {
      'nodegen-bundle.list': `deb [signed-by=${keys.os}.gpg] ${base}/bundle/os/debian-12/ ./\n`,
      'kubernetes.list': `deb [signed-by=${keys.kube}.gpg] ${base}/bundle/${KUBE}/ /\n`,
    })
    const common = [...apt.options, '-o', 'Acquire::Retries=0', '-o', 'APT::Sandbox::User=root']
    const update = await runAsync('apt-get', [...common, 'update'])
    assert.equal(update.status, 0, update.stdout + update.stderr)
    assert.doesNotMatch(update.stdout + update.stderr, /^(W|E):/m)
    const install = await runAsync('apt-get', [...common, 'install', '-y', '--download-only', 'nodegen-probe-os', 'nodegen-probe-kube'])
    assert.equal(install.status, 0, install.stdout + install.stderr)
    assert.deepEqual(
      readdirSync(path.join(apt.dir, 'cache/archives'))
        .filter((f) => f.endsWith('.deb'))
        .sort(),
      ['nodegen-probe-kube_1.0-1_all.deb', 'nodegen-probe-os_1.0-1_all.deb'],
    )
  })

  it('without --bundle-link-root, a link out of the bundle is refused too', async (t) => {
    requireTool(t, 'curl')
    const other = await freePort()
    const p2 = path.join(tmp, 'island-2.yaml')
    writeFileSync(p2, profileText(other, pin))
    const s = await startServe([p2, '--listen', `127.0.0.1:${other}`, '--state', path.join(tmp, 'state-2'), '--bundle', bundle])
    const r = await fetch(`http://127.0.0.1:${other}/bundle/images/cached.tar`)
    assert.equal(r.status, 404)
    assert.equal((await fetch(`http://127.0.0.1:${other}/bundle/SHA256SUMS`)).status, 200)
    await s.stop()
  })

  it('refuses a directory that is no bundle (NG1119) or is the state directory (NG1120)', async () => {
    const env = {...process.env, NODEGEN_PKI_PASSPHRASE: '', OCLIF_COLUMNS: '2000'}
    const empty = mkdtempSync(path.join(tmp, 'empty-'))
    const args = (dir: string) => [builtCli(), 'serve', profile, '--listen', '127.0.0.1:0', '--state', state, '--bundle', dir]
    const notBundle = await runAsync(process.execPath, args(empty), {env})
    assert.equal(notBundle.status, 1, notBundle.stderr)
    assert.match(notBundle.stderr, /NG1119: --bundle .* is not an air-gap bundle: it has no SHA256SUMS/)
    writeFileSync(path.join(state, 'SHA256SUMS'), '')
    const stateDir = await runAsync(process.execPath, args(state), {env})
    assert.equal(stateDir.status, 1, stateDir.stderr)
    assert.match(stateDir.stderr, /NG1120: .* is, holds or lies in the state directory/)
    rmSync(path.join(state, 'SHA256SUMS'))
  })
})
