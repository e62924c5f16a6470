/** Where a profile's state goes, and the next step `render` prints for each medium. */
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {defaultBuildDir} from '../../../src/app/image.js'
import {BUNDLED_PROFILES, defaultStateDir, isBundledProfile, QUICKSTART_PROFILE} from '../../../src/app/profile-file.js'
import {type MediaKind, nextSteps, type RenderResult} from '../../../src/app/render.js'
import type {Cluster} from '../../../src/profile/index.js'
import {loadCluster, PROFILES_DIR} from '../../support/profiles.js'

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-state-dir-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

describe('the default state directory', () => {
  const cwd = path.join(tmp, 'work')

  it('for the bundled default profile, or one named by its path: .nodegen/<cluster>/ in the working directory', () => {
    assert.equal(BUNDLED_PROFILES, PROFILES_DIR)
    assert.ok(isBundledProfile(QUICKSTART_PROFILE))
    assert.equal(defaultStateDir(QUICKSTART_PROFILE, 'quickstart', cwd), path.join(cwd, '.nodegen', 'quickstart'))
    assert.equal(defaultStateDir(path.join(PROFILES_DIR, 'aws.yaml'), 'aws-demo', cwd), path.join(cwd, '.nodegen', 'aws-demo'))
    assert.equal(
      defaultBuildDir(QUICKSTART_PROFILE, 'quickstart', 'almalinux-9', 'qemu', cwd),
      path.join(cwd, '.nodegen-images', 'quickstart', 'almalinux-9-qemu'),
    )
  })

  it('the bundled profiles reached through a symbolic link are still bundled', () => {
    const link = path.join(tmp, 'linked-profiles')
    symlinkSync(PROFILES_DIR, link)
    assert.ok(isBundledProfile(path.join(link, 'quickstart.yaml')))
    assert.equal(defaultStateDir(path.join(link, 'quickstart.yaml'), 'quickstart', cwd), path.join(cwd, '.nodegen', 'quickstart'))
  })

  it("for a profile of the user's: beside it, wherever the command runs", () => {
    const mine = path.join(tmp, 'clusters')
    mkdirSync(mine)
    const file = path.join(mine, 'lab.yaml')
    assert.ok(!isBundledProfile(file))
    assert.equal(defaultStateDir(file, 'lab', cwd), path.join(mine, '.nodegen', 'lab'))
    assert.equal(defaultBuildDir(file, 'lab', 'debian-12', 'qemu', cwd), path.join(mine, '.nodegen-images', 'lab', 'debian-12-qemu'))
    // a sub-directory of the bundled profiles is not a bundled profile
    assert.ok(!isBundledProfile(path.join(PROFILES_DIR, 'mine', 'lab.yaml')))
  })
})

function resultFor(cluster: Cluster, artifacts: (name: string) => string[]): RenderResult {
  return {
    cluster: cluster.name,
    outDir: '/abs/out',
    bytes: 1,
    nodes: cluster.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      ordinal: n.ordinal,
      format: n.format,
      files: 1,
      secretFiles: 0,
      userData: {encoding: 'raw', rawSize: 1, size: 1, budget: null},
      artifacts: [`${n.name}/user-data`, ...artifacts(n.name)],
    })),
  }
}

describe('the next step render prints', () => {
  const quickstart = loadCluster(path.join(PROFILES_DIR, 'quickstart.yaml'))
  const steps = (c: Cluster, media: MediaKind, artifacts: (name: string) => string[] = () => []) =>
    nextSteps(c, resultFor(c, artifacts), media, 'out', 'nodegen launch aws cluster.yaml')

  it('iso: each node and the ISO to attach to it, then kubectl with admin.conf', () => {
    const lines = steps(quickstart, 'iso', (n) => [`${n}.iso`])
    assert.match(lines[0] ?? '', /^Next: attach each ISO to its machine as a CD-ROM \(a NoCloud seed, volume cidata\)/)
    assert.equal(lines[1], '  out/kube-alma-m-01.iso  to  kube-alma-m-01 (control-plane 0, 10.0.0.110)')
    assert.equal(lines[5], '  out/kube-alma-n-02.iso  to  kube-alma-n-02 (worker 1, 10.0.0.121)')
    assert.equal(lines.length, 7)
    assert.match(lines[6] ?? '', /KUBECONFIG=out\/admin\.conf kubectl get nodes +\(API https:\/\/10\.0\.0\.100:6443\)$/)
  })

  it('configdrive, bundle and none name their files; pxe names the tree and the MACs; aws the launch command', () => {
    assert.match(steps(quickstart, 'configdrive', (n) => [`${n}.iso`])[0] ?? '', /a config drive, volume config-2/)
    assert.equal(
      steps(quickstart, 'bundle', (n) => [`${n}.zip`])[1],
      '  out/kube-alma-m-01.zip  to  kube-alma-m-01 (control-plane 0, 10.0.0.110)',
    )
    assert.equal(steps(quickstart, 'none')[1], '  out/kube-alma-m-01/  to  kube-alma-m-01 (control-plane 0, 10.0.0.110)')
    const pxe = {
      ...quickstart,
      platform: {...quickstart.platform, type: 'pxe', pxe: {serverUrl: 'http://10.0.0.2:8080'}},
      nodes: quickstart.nodes.map((n, i) => ({...n, mac: `52:54:00:00:00:0${i}`})),
    } as Cluster
    const p = steps(pxe, 'pxe')
    assert.match(p[0] ?? '', /^Next: serve out\/pxe\/ at http:\/\/10\.0\.0\.2:8080 .*out\/dnsmasq-proxy\.conf.*out\/dnsmasq-dhcp\.conf/)
    assert.equal(p[1], '  kube-alma-m-01 (control-plane 0, 10.0.0.110, MAC 52:54:00:00:00:00)')
    const aws = loadCluster(path.join(PROFILES_DIR, 'aws.yaml'))
    const a = steps(aws, 'none')
    assert.equal(a.length, 2)
    assert.match(a[0] ?? '', /^Next: nodegen launch aws cluster\.yaml --dry-run/)
  })
})
