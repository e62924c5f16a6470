/**
 * An air-gapped Debian node's apt reads the bundle and nothing else. A loopback server serves a
 * bundle laid out as docs/airgap.md says (a flat os/debian-12/ repository, pkgs.k8s.io's layout
 * under kubernetes/, Release.key, SHA256SUMS), each repository signed by a key made for the test and
 * holding one small package. The real apt, in a scratch tree whose sources.list and
 * sources.list.d name mirrors the node cannot reach (as a Debian image's own do), runs with the
 * options install-packages.sh takes from its apt_only_lists (read from the script itself) over the
 * two lists nodegen renders, with the keys bundle.sh fetched and checked: the update is clean and
 * both packages download from the bundle. As a control, the same tree without those options reads
 * the unreachable mirrors.
 */
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import type {NodePlan} from '../../../src/plan/types.js'
import {scratchApt} from '../../support/apt.js'
import {type ServedDirectory, serveDirectory} from '../../support/net.js'
import {REPO_ROOT} from '../../support/profiles.js'
import {renderProfile} from '../../support/render.js'
import {requireTool, run, runAsync} from '../../support/tools.js'

const INSTALL_SCRIPT = path.join(REPO_ROOT, 'assets/bootstrap/install-packages.sh')
const BUNDLE_SCRIPT = path.join(REPO_ROOT, 'assets/bootstrap/bundle.sh')
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-bundle-apt-'))
const www = path.join(tmp, 'www')
let served: ServedDirectory | undefined
/** Every path the server was asked for, in order. */
const requested = (): string[] => served?.requests ?? []
let base = ''

before(async () => {
  mkdirSync(www)
  served = await serveDirectory(www)
  base = served.url
})
after(async () => {
  await served?.close()
  rmSync(tmp, {recursive: true, force: true})
})

/** Mirrors nothing answers for: refused at once, so a source apt reads from them fails fast. */
const UNREACHABLE_LIST = 'deb http://127.0.0.1:1/debian bookworm main\n'
const UNREACHABLE_DEB822 = `Types: deb
URIs: http://127.0.0.1:1/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`

/** A signed flat repository in `dir` holding one package `name` (no dependencies). */
function flatRepo(dir: string, name: string, gnupg: string): void {
  mkdirSync(dir, {recursive: true})
  const pkg = path.join(tmp, 'pkg', name)
  mkdirSync(path.join(pkg, 'DEBIAN'), {recursive: true})
  mkdirSync(path.join(pkg, 'usr/share/doc', name), {recursive: true})
  writeFileSync(path.join(pkg, 'usr/share/doc', name, 'README'), `${name}: from the air-gap bundle\n`)
  writeFileSync(
    path.join(pkg, 'DEBIAN/control'),
    `Package: ${name}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: nodegen tests <tests@nodegen.invalid>\nDescription: ${name}\n probe package of the bundle apt test\n`,
  )
  run('dpkg-deb', ['--root-owner-group', '--build', pkg, path.join(dir, `${name}_1.0-1_all.deb`)])
  writeFileSync(path.join(dir, 'Packages'), run('apt-ftparchive', ['packages', '.'], {cwd: dir}).stdout)
  writeFileSync(path.join(dir, 'Release'), run('apt-ftparchive', ['release', '.'], {cwd: dir}).stdout)
  run('gpg', ['--batch', '--yes', '--clearsign', '-o', path.join(dir, 'InRelease'), path.join(dir, 'Release')], {
    env: {...process.env, GNUPGHOME: gnupg},
  })
  writeFileSync(path.join(dir, 'Release.key'), run('gpg', ['--armor', '--export'], {env: {...process.env, GNUPGHOME: gnupg}}).stdout)
}

/** The bundle under www/bundle/, as scripts/build-bundle.sh lays it out; returns SHA256SUMS's SHA-256. */
function writeBundle(): string {
  const gnupg = path.join(tmp, 'gnupg')
  mkdirSync(gnupg, {mode: 0o700})
  run('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'nodegen bundle test <bundle@test.invalid>', 'ed25519', 'sign', 'never'], {
    env: {...process.env, GNUPGHOME: gnupg},
  })
  const b = path.join(www, 'bundle')
  const kube = 'kubernetes/core:/stable:/v1.34/deb'
  flatRepo(path.join(b, 'os/debian-12'), 'nodegen-probe-os', gnupg)
  flatRepo(path.join(b, kube), 'nodegen-probe-kube', gnupg)
  writeFileSync(path.join(b, 'Release.key'), readFileSync(path.join(b, 'os/debian-12/Release.key')))
  const listed = ['Release.key', `${kube}/Release.key`, 'os/debian-12/Release.key']
  const sums = listed
    .map(
      (f) =>
        `${createHash('sha256')
          .update(readFileSync(path.join(b, f)))
          .digest('hex')}  ${f}\n`,
    )
    .join('')
  writeFileSync(path.join(b, 'SHA256SUMS'), sums)
  return createHash('sha256').update(sums).digest('hex')
}

function content(p: NodePlan, file: string): string {
  const f = p.files.find((x) => x.path === file)
  assert.ok(f, `${file} is planned`)
  return f.content
}

/** install-packages.sh's apt options for a directory of lists, from its own apt_only_lists. */
function productOptions(only: string): string[] {
  const r = run('bash', [
    '-c',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own expansion
    'set -eu; eval "$(grep -m1 "^apt_only_lists() " "$1")"; apt_only_lists "$2"; printf "%s\\n" "${APT_SOURCES[@]}"',
    'options',
    INSTALL_SCRIPT,
    only,
  ])
  return r.stdout.trim().split('\n')
}

describe("an air-gapped Debian node's apt reads only the bundle", () => {
  it("install-packages.sh's options: the image's unreachable sources are not read, the bundle's packages download", async (t) => {
    for (const tool of ['apt-get', 'apt-ftparchive', 'gpg', 'dpkg-deb', 'curl']) requireTool(t, tool)
    const pin = writeBundle()
    const bundle = `${base}/bundle/`
    const profile = path.join(tmp, 'island.yaml')
    writeFileSync(
      profile,
      `apiVersion: nodegen.dev/v1alpha1
kind: Cluster
metadata: {name: island}
spec:
  kubernetes: {version: 1.34.2}
  os: debian-12
  networking: {cni: {type: flannel, manifestUrl: ${bundle}cni/kube-flannel.yml}}
  containerRuntime: {type: containerd, source: distribution}
  airgap: {bundle: ${bundle}, sha256: ${pin}}
  nodes:
    - {name: cp-0, role: control-plane, ip: 10.30.0.10/24}
`,
    )
    const plan = (await renderProfile(profile)).nodes[0]?.plan
    assert.ok(plan)

    // The keys as install-packages.sh gets them: through bundle.sh, checked against the pin and SHA256SUMS.
    const node = mkdtempSync(path.join(tmp, 'node-'))
    const params = path.join(node, 'bootstrap.env')
    writeFileSync(params, content(plan, '/etc/nodegen/bootstrap.env'))
    const krepo = /^KUBERNETES_REPO=(.*)$/m.exec(content(plan, '/etc/nodegen/bootstrap.env'))?.[1] ?? ''
    assert.ok(krepo.startsWith(bundle), `KUBERNETES_REPO ${krepo} is in the bundle`)
    const keys = {bundle: path.join(node, 'nodegen-bundle.asc'), kubernetes: path.join(node, 'kubernetes-apt-keyring.asc')}
    for (const [rel, dest] of [
      ['Release.key', keys.bundle],
      [`${krepo.slice(bundle.length)}Release.key`, keys.kubernetes],
    ] as const) {
      const r = await runAsync('bash', [BUNDLE_SCRIPT, params, 'fetch', rel, dest], {env: {...process.env, NODEGEN_ROOT: node}})
      assert.equal(r.status, 0, `bundle.sh fetch ${rel}: ${r.stderr}`)
    }

    // /etc/nodegen/apt-sources.list.d as install-packages.sh fills it: the two lists nodegen renders.
    const only = path.join(node, 'apt-sources.list.d')
    mkdirSync(only)
    writeFileSync(
      path.join(only, 'nodegen-bundle.list'),
      content(plan, '/etc/apt/sources.list.d/nodegen-bundle.list').replace('/etc/apt/keyrings/nodegen-bundle.asc', keys.bundle),
    )
    writeFileSync(
      path.join(only, 'kubernetes.list'),
      content(plan, '/etc/apt/sources.list.d/kubernetes.list').replace('/etc/apt/keyrings/kubernetes-apt-keyring.asc', keys.kubernetes),
    )
    const options = productOptions(only)

    // The image's own sources, which an air-gapped node cannot reach.
    const apt = scratchApt(
      tmp,
      {'debian.sources': UNREACHABLE_DEB822, 'extra.list': UNREACHABLE_LIST.replace('/debian ', '/debian-extra ')},
      {sourcesList: UNREACHABLE_LIST},
    )
    const common = [...apt.options, '-o', 'Acquire::Retries=0', '-o', 'APT::Sandbox::User=root']

    // Asynchronously: the bundle is served by this process, which must stay free to answer.
    const update = await runAsync('apt-get', [...common, ...options, 'update'])
    const updateLog = `${update.stdout}${update.stderr}`
    assert.equal(update.status, 0, updateLog)
    assert.doesNotMatch(updateLog, /^(W|E):/m, updateLog)
    assert.doesNotMatch(updateLog, /127\.0\.0\.1:1\//, 'apt read none of the unreachable sources')
    // A flat repository's suite is ./ (apt asks for os/debian-12/./InRelease).
    const asked = requested().map((u) => path.posix.normalize(u))
    assert.ok(asked.includes('/bundle/os/debian-12/InRelease'), asked.join('\n'))
    assert.ok(asked.includes('/bundle/kubernetes/core:/stable:/v1.34/deb/InRelease'), asked.join('\n'))

    const install = await runAsync('apt-get', [
      ...common,
      ...options,
      'install',
      '-y',
      '--download-only',
      'nodegen-probe-os',
      'nodegen-probe-kube',
    ])
    assert.equal(install.status, 0, `${install.stdout}${install.stderr}`)
    assert.deepEqual(
      readdirSync(path.join(apt.dir, 'cache/archives'))
        .filter((f) => f.endsWith('.deb'))
        .sort(),
      ['nodegen-probe-kube_1.0-1_all.deb', 'nodegen-probe-os_1.0-1_all.deb'],
    )

    assert.deepEqual(options, ['-o', 'Dir::Etc::sourcelist=/dev/null', '-o', `Dir::Etc::sourceparts=${only}`])

    // The control: the same tree without the options reads every unreachable source (apt warns and
    // carries on; on a node each one costs a connection timeout).
    const control = await runAsync('apt-get', [...common, 'update'])
    const controlLog = `${control.stdout}${control.stderr}`
    for (const url of ['http://127.0.0.1:1/debian/', 'http://127.0.0.1:1/debian-extra/', 'http://127.0.0.1:1/debian-security/'])
      assert.ok(
        controlLog.includes(`W: Failed to fetch ${url}`),
        `without the options apt did not read ${url}, so this test proves nothing:\n${controlLog}`,
      )
  })
})
