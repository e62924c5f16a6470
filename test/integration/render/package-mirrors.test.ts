/**
 * A profile's Kubernetes package mirror renders to the path that mirror serves. A loopback server is
 * laid out like Aliyun's mirror (`…/kubernetes-new/core/stable/v1.34/{deb,rpm}/`, no colons), with a
 * Debian repository signed by a key made for the test and an rpm repository's metadata; the real
 * apt fetches and verifies the index through the kubernetes.list nodegen renders, with the key
 * install-packages.sh would download from KUBERNETES_REPO, and the .repo file's baseurl and gpgkey
 * are fetched as dnf would. A prefix joined with the upstream layout (`core:/stable:/`) is what
 * that mirror does not serve: the same server answers 404 and apt fails.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it, type TestContext} from 'node:test'
import {loadProfile, PACKAGE_MIRRORS} from '../../../src/profile/index.js'
import {scratchApt} from '../../support/apt.js'
import {renderProfile} from '../../support/render.js'
import {requireTool, run} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-mirror-'))
const MIRROR_PATH = '/kubernetes-new/core/stable/v1.34'
let server: Server | undefined
let base = ''
let repoReady = false

before(async () => {
  server = createServer((req, res) => {
    const file = path.join(tmp, 'www', decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/'))
    if (!file.startsWith(path.join(tmp, 'www'))) {
      res.writeHead(400).end()
      return
    }
    try {
      const body = readFileSync(file)
      res.writeHead(200).end(body)
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

/** A signed, empty Debian flat repository and an rpm repository's metadata, laid out like the mirror. */
function buildMirror(t: TestContext): void {
  if (repoReady) return
  const gpg = requireTool(t, 'gpg')
  const ftparchive = requireTool(t, 'apt-ftparchive')
  const gnupg = path.join(tmp, 'gnupg')
  mkdirSync(gnupg, {mode: 0o700})
  const env = {...process.env, GNUPGHOME: gnupg}
  run(gpg, ['--batch', '--passphrase', '', '--quick-gen-key', 'nodegen mirror test <mirror@test.invalid>', 'ed25519', 'sign', 'never'], {
    env,
  })
  const deb = path.join(tmp, 'www', MIRROR_PATH, 'deb')
  mkdirSync(deb, {recursive: true})
  writeFileSync(path.join(deb, 'Packages'), '')
  writeFileSync(path.join(deb, 'Release'), run(ftparchive, ['release', '.'], {cwd: deb}).stdout)
  run(gpg, ['--batch', '--yes', '--clearsign', '-o', path.join(deb, 'InRelease'), path.join(deb, 'Release')], {env})
  writeFileSync(path.join(deb, 'Release.key'), run(gpg, ['--armor', '--export'], {env}).stdout)
  const repodata = path.join(tmp, 'www', MIRROR_PATH, 'rpm', 'repodata')
  mkdirSync(repodata, {recursive: true})
  writeFileSync(path.join(repodata, 'repomd.xml'), '<?xml version="1.0"?><repomd xmlns="http://linux.duke.edu/metadata/repo"/>\n')
  writeFileSync(path.join(repodata, 'repomd.xml.key'), readFileSync(path.join(deb, 'Release.key')))
  repoReady = true
}

function profile(osId: string, repository: string): string {
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: mirror}
spec:
  kubernetes: {version: 1.34.2, packageRepository: "${repository}"}
  os: ${osId}
  networking: {cni: {type: flannel}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
`
}

async function plan(name: string, osId: string, repository: string) {
  const file = path.join(tmp, `${name}.yaml`)
  writeFileSync(file, profile(osId, repository))
  const r = await renderProfile(file)
  return r.nodes[0]?.plan as NonNullable<(typeof r.nodes)[number]>['plan']
}

function content(p: Awaited<ReturnType<typeof plan>>, file: string): string {
  const f = p.files.find((x) => x.path === file)
  assert.ok(f, `${file} is planned`)
  return f.content
}

function param(p: Awaited<ReturnType<typeof plan>>, key: string): string | undefined {
  return new RegExp(`^${key}=(.*)$`, 'm').exec(content(p, '/etc/nodegen/bootstrap.env'))?.[1]
}

/**
 * `apt-get update` in a scratch apt tree over the rendered kubernetes.list, trusting the key fetched
 * from the rendered KUBERNETES_REPO (its signed-by path moved into the scratch tree).
 */
async function aptUpdate(p: Awaited<ReturnType<typeof plan>>): Promise<{status: number | null; output: string}> {
  const repo = param(p, 'KUBERNETES_REPO')
  assert.ok(repo, 'bootstrap.env names KUBERNETES_REPO')
  const key = await fetch(`${repo}Release.key`)
  const list = content(p, '/etc/apt/sources.list.d/kubernetes.list')
  assert.match(list, /signed-by=\/etc\/apt\/keyrings\/kubernetes-apt-keyring\.asc/)
  const keyFile = path.join(mkdtempSync(path.join(tmp, 'key-')), 'kubernetes-apt-keyring.asc')
  writeFileSync(keyFile, key.ok ? Buffer.from(await key.arrayBuffer()) : '')
  const apt = scratchApt(tmp, {'kubernetes.list': list.replace('/etc/apt/keyrings/kubernetes-apt-keyring.asc', keyFile)})
  // Asynchronously: the mirror is served by this process, which must stay free to answer.
  return runAsync('apt-get', [...apt.options, '-o', 'Acquire::Retries=0', '-o', 'APT::Sandbox::User=root', 'update'])
}

function runAsync(cmd: string, args: string[]): Promise<{status: number | null; output: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']})
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
}

describe('Kubernetes package mirrors render to the paths they serve', () => {
  it('a mirror laid out without colons (a URL template): apt fetches and verifies its index, the key comes from it', async (t) => {
    requireTool(t, 'apt-get')
    buildMirror(t)
    const p = await plan('template-deb', 'debian-12', `${base}/kubernetes-new/core/stable/{channel}/{format}/`)
    assert.equal(param(p, 'KUBERNETES_REPO'), `${base}${MIRROR_PATH}/deb/`)
    const r = await aptUpdate(p)
    assert.equal(r.status, 0, r.output)
    assert.doesNotMatch(r.output, /^(W|E):/m, r.output)
  })

  it('RHEL: the .repo baseurl and gpgkey are what the mirror serves', async () => {
    const p = await plan('template-rpm', 'almalinux-9', `${base}/kubernetes-new/core/stable/{channel}/{format}/`)
    const repo = content(p, '/etc/yum.repos.d/kubernetes.repo')
    const baseurl = /^baseurl=(.*)$/m.exec(repo)?.[1]
    const gpgkey = /^gpgkey=(.*)$/m.exec(repo)?.[1]
    assert.equal(baseurl, `${base}${MIRROR_PATH}/rpm/`)
    assert.equal(gpgkey, `${baseurl}repodata/repomd.xml.key`)
    for (const url of [`${baseurl}repodata/repomd.xml`, `${baseurl}repodata/repomd.xml.key`])
      assert.equal((await fetch(url)).status, 200, url)
  })

  it("the prefix joined with pkgs.k8s.io's layout is what such a mirror does not serve (apt fails)", async (t) => {
    requireTool(t, 'apt-get')
    buildMirror(t)
    const p = await plan('prefix', 'debian-12', `${base}/kubernetes-new`)
    assert.equal(param(p, 'KUBERNETES_REPO'), `${base}/kubernetes-new/core:/stable:/v1.34/deb/`)
    const r = await aptUpdate(p)
    assert.match(r.output, /404|does not have a Release file/)
  })

  it('known mirrors by name: aliyun without colons, tuna and ustc with the upstream layout', async (t) => {
    requireTool(t, 'apt-get')
    const want: Record<string, string> = {
      upstream: 'https://pkgs.k8s.io/core:/stable:/v1.34/deb/',
      aliyun: 'https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.34/deb/',
      tuna: 'https://mirrors.tuna.tsinghua.edu.cn/kubernetes/core:/stable:/v1.34/deb/',
      ustc: 'https://mirrors.ustc.edu.cn/kubernetes/core:/stable:/v1.34/deb/',
    }
    assert.deepEqual(Object.keys(PACKAGE_MIRRORS.kubernetes).sort(), Object.keys(want).sort())
    for (const [name, url] of Object.entries(want)) {
      const p = await plan(`named-${name}`, 'debian-12', name)
      assert.equal(param(p, 'KUBERNETES_REPO'), url, name)
      assert.ok(content(p, '/etc/apt/sources.list.d/kubernetes.list').includes(`] ${url} /`), name)
      const rpm = await plan(`named-${name}-rpm`, 'rocky-9', name)
      assert.match(
        content(rpm, '/etc/yum.repos.d/kubernetes.repo'),
        new RegExp(`^baseurl=${url.replace('/deb/', '/rpm/').replace(/[.:/]/g, '\\$&')}$`, 'm'),
      )
    }
  })

  it('refuses an unknown placeholder, a template without the stream, and an unknown mirror name, with the line', () => {
    for (const [value, pattern] of [
      ['https://m.example.com/k8s/{version}/{format}/', /\{version\} is no placeholder/],
      ['https://m.example.com/k8s/{format}/', /\{channel\} \(v1\.34\) or \{minor\}/],
      ['aliyn', /the known mirrors are upstream, aliyun, tuna, ustc/],
    ] as const) {
      const r = loadProfile(profile('debian-12', value), 'mirror.yaml')
      const d = r.diagnostics.find((x) => x.path.join('.') === 'spec.kubernetes.packageRepository')
      assert.ok(d, `${value}: ${JSON.stringify(r.diagnostics)}`)
      assert.match(d.message, pattern)
      assert.equal(d.position?.line, 5)
    }
  })
})
