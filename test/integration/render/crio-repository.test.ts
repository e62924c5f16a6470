/**
 * CRI-O's packages live in its openSUSE Build Service repositories,
 * https://download.opensuse.org/repositories/isv:/cri-o:/stable:/vX.Y/{rpm,deb}/, one per stream
 * (the Kubernetes minor), and a profile may name a mirror of them. The Debian source line is read
 * by apt itself (`apt-get --print-uris update` in a scratch apt tree: the index URLs it would
 * fetch); the RHEL .repo file and the key install-packages.sh downloads are checked as rendered.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {loadProfile} from '../../../src/profile/index.js'
import {scratchApt} from '../../support/apt.js'
import {renderProfile} from '../../support/render.js'
import {requireTool, run} from '../../support/tools.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-crio-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function profile(osId: string, repository?: string): string {
  return `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: crio}
spec:
  kubernetes: {version: 1.34.2}
  os: ${osId}
  containerRuntime: {type: cri-o${repository ? `, crioRepository: "${repository}"` : ''}}
  networking: {cni: {type: flannel}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
`
}

async function plan(name: string, osId: string, repository?: string) {
  const file = path.join(tmp, `${name}.yaml`)
  writeFileSync(file, profile(osId, repository))
  const r = await renderProfile(file)
  return r.nodes[0]!.plan
}

function content(p: Awaited<ReturnType<typeof plan>>, file: string): string {
  const f = p.files.find((x) => x.path === file)
  assert.ok(f, `${file} is planned`)
  return f.content
}

/** The index URLs apt would fetch for a sources.list.d file, in a scratch apt tree. */
function aptIndexUris(list: string): string[] {
  const apt = scratchApt(tmp, {'cri-o.list': list})
  const out = run('apt-get', [...apt.options, '--print-uris', 'update'])
  return [...out.stdout.matchAll(/^'([^']+)'/gm)].map((m) => m[1]!)
}

const STREAM = 'https://download.opensuse.org/repositories/isv:/cri-o:/stable:/v1.34'

describe("CRI-O's package repository", () => {
  it('Debian: apt reads the rendered source as the isv:/cri-o:/stable:/v1.34 repository, and the key comes from it', async (t) => {
    requireTool(t, 'apt-get')
    const p = await plan('deb', 'debian-12')
    const uris = aptIndexUris(content(p, '/etc/apt/sources.list.d/cri-o.list'))
    assert.ok(uris.includes(`${STREAM}/deb/InRelease`), uris.join('\n'))
    assert.match(content(p, '/etc/nodegen/bootstrap.env'), new RegExp(`^CRIO_REPO=${STREAM.replace(/[.:/]/g, '\\$&')}/deb/$`, 'm'))
    const script = readFileSync(path.join(import.meta.dirname, '../../../assets/bootstrap/install-packages.sh'), 'utf8')
    assert.ok(script.includes('"$(param CRIO_REPO)Release.key"'))
  })

  it('RHEL: the .repo names the rpm repository and its repomd.xml.key', async () => {
    const p = await plan('rpm', 'almalinux-9')
    const repo = content(p, '/etc/yum.repos.d/cri-o.repo')
    assert.match(repo, new RegExp(`^baseurl=${STREAM}/rpm/$`, 'm'))
    assert.match(repo, new RegExp(`^gpgkey=${STREAM}/rpm/repodata/repomd\\.xml\\.key$`, 'm'))
    assert.doesNotMatch(repo, /pkgs\.k8s\.io|addons:/)
  })

  it('a profile names a mirror (spec.containerRuntime.crioRepository), the stream appended', async (t) => {
    requireTool(t, 'apt-get')
    const mirror = 'https://mirror.example.com/opensuse/repositories/isv:/cri-o:/stable:/'
    const deb = await plan('deb-mirror', 'debian-12', mirror)
    const uris = aptIndexUris(content(deb, '/etc/apt/sources.list.d/cri-o.list'))
    assert.ok(uris.includes('https://mirror.example.com/opensuse/repositories/isv:/cri-o:/stable:/v1.34/deb/InRelease'), uris.join('\n'))
    const rpm = await plan('rpm-mirror', 'almalinux-9', mirror)
    assert.match(
      content(rpm, '/etc/yum.repos.d/cri-o.repo'),
      /^baseurl=https:\/\/mirror\.example\.com\/opensuse\/repositories\/isv:\/cri-o:\/stable:\/v1\.34\/rpm\/$/m,
    )
  })

  it('refuses a crioRepository that is not a URL, naming the field and its line', () => {
    const r = loadProfile(profile('debian-12', 'not a url'), 'crio.yaml')
    const d = r.diagnostics.find((x) => x.path.join('.') === 'spec.containerRuntime.crioRepository')
    assert.ok(d, JSON.stringify(r.diagnostics))
    assert.match(d.code, /^NG\d{4}$/)
    assert.equal(d.position?.line, 7)
  })
})

describe('containerd on Debian and Ubuntu', () => {
  it("defaults to Docker's containerd.io (a supported release), whose source apt reads", async (t) => {
    requireTool(t, 'apt-get')
    for (const [osId, distro, codename] of [
      ['debian-12', 'debian', 'bookworm'],
      ['ubuntu-24.04', 'ubuntu', 'noble'],
    ] as const) {
      const file = path.join(tmp, `containerd-${osId}.yaml`)
      writeFileSync(file, profile(osId).replace('containerRuntime: {type: cri-o}', 'containerRuntime: {type: containerd}'))
      const p = (await renderProfile(file)).nodes[0]!.plan
      const env = content(p, '/etc/nodegen/bootstrap.env')
      assert.match(env, /^RUNTIME_SOURCE=docker$/m, osId)
      assert.match(env, /^CONTAINERD_VERSION=2\.0\.11$/m, `${osId}: the pin for Kubernetes 1.34`)
      const uris = aptIndexUris(content(p, '/etc/apt/sources.list.d/docker.list'))
      assert.ok(
        uris.some((u) => u.startsWith(`https://download.docker.com/linux/${distro}/dists/${codename}/`)),
        uris.join('\n'),
      )
    }
  })
})
