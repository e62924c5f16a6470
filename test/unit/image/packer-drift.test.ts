/**
 * packer/ is the image generator's output for profiles/quickstart.yaml: one source for first boot
 * and baked images. This fails when packer/ differs from what the planner generates (regenerate with
 * `npm run packer`), and checks that what it bakes is what first boot would do.
 */
import assert from 'node:assert/strict'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {loadAssets} from '../../../src/app/assets.js'
import {packerTree} from '../../../src/app/image.js'
import {CURRENT_FEATURES, IMAGE_OS_IDS} from '../../../src/image/index.js'
import {buildOsFiles} from '../../../src/plan/os/index.js'
import {OS_IDS} from '../../../src/profile/index.js'
import {loadCluster, PROFILES_DIR, profileText, REPO_ROOT} from '../../support/profiles.js'

const PACKER = path.join(REPO_ROOT, 'packer')
const QUICKSTART = path.join(PROFILES_DIR, 'quickstart.yaml')

function onDisk(dir: string): Map<string, {content: string; exec: boolean}> {
  const out = new Map<string, {content: string; exec: boolean}>()
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.set(path.relative(dir, p), {content: readFileSync(p, 'utf8'), exec: (statSync(p).mode & 0o111) !== 0})
    }
  }
  walk(dir)
  return out
}

describe('packer/ (generated from the planner)', () => {
  const cluster = loadCluster(QUICKSTART)
  const want = packerTree(cluster, CURRENT_FEATURES)
  const have = onDisk(PACKER)

  it('has exactly the files the generator writes, byte for byte (npm run packer regenerates it)', () => {
    const stale = [...want.keys()].filter((k) => have.get(k)?.content !== want.get(k)?.content)
    const extra = [...have.keys()].filter((k) => !want.has(k))
    assert.deepEqual({stale, extra}, {stale: [], extra: []}, 'packer/ is out of date: run `npm run packer`')
    for (const [rel, f] of want) assert.equal(have.get(rel)?.exec, (f.mode & 0o111) !== 0, `${rel}: executable bit`)
  })

  it('covers every OS the planner supports but Flatcar, each with the three builders', () => {
    assert.deepEqual([...IMAGE_OS_IDS].sort(), OS_IDS.filter((o) => o !== 'flatcar').sort())
    for (const os of IMAGE_OS_IDS) {
      const hcl = have.get(`${os}/${os}.pkr.hcl`)?.content ?? ''
      const name = os.replace(/\./g, '-')
      for (const b of ['qemu', 'amazon-ebs', 'googlecompute'])
        assert.match(hcl, new RegExp(`^source "${b}" "${name}" \\{`, 'm'), `${os} ${b}`)
      assert.match(hcl, /^\s+disk_image\s+= true$/m)
      assert.match(hcl, /^\s+post-processor "manifest" \{$/m)
    }
  })

  it('runs the very install-packages.sh first boot runs, kept once for every OS', () => {
    assert.equal(have.get('scripts/install-packages.sh')?.content, loadAssets().installScript)
    for (const os of IMAGE_OS_IDS) {
      assert.equal(have.has(`${os}/scripts/install-packages.sh`) || have.has(`${os}/image/scripts/install-packages.sh`), false, os)
      assert.match(have.get(`${os}/${os}.pkr.hcl`)?.content ?? '', /source\s+= "\$\{path\.root\}\/\.\.\/scripts\/"/, os)
    }
  })

  it('places the OS preparation files first boot would write on a node of that OS (repositories included)', () => {
    const body = (s: string) => s.split('\n').slice(1).join('\n')
    for (const os of IMAGE_OS_IDS) {
      const c = loadCluster(QUICKSTART, profileText('quickstart.yaml').replace(/^ {2}os: .*$/m, `  os: ${os}`))
      const node = c.nodes[0]!
      const files = buildOsFiles(c, node)
      assert.ok(
        files.some((f) => f.origin === 'os:repositories'),
        `${os}: a first-boot node gets repositories`,
      )
      const tsv = have.get(`${os}/image/files.tsv`)?.content ?? ''
      for (const f of files) {
        assert.equal(body(have.get(`${os}/image/files${f.path}`)?.content ?? '<missing>'), body(f.content), `${os} ${f.path}`)
        assert.ok(tsv.includes(`0${f.mode.toString(8)}\t${f.path}\n`), `${os}: files.tsv lists ${f.path}`)
      }
      const env = have.get(`${os}/image/image.env`)?.content ?? ''
      assert.match(env, new RegExp(`^OS_ID=${os.replace('.', '\\.')}$`, 'm'))
      assert.match(env, /^KUBERNETES_VERSION=1\.34\.2$/m)
      assert.match(env, /^NODE_ROLE=control-plane$/m, 'the endpoint packages are baked for every role')
      assert.doesNotMatch(env, /^NODE_(NAME|IP)=/m, 'nothing node-specific is baked')
    }
  })

  it('pre-pulls, writes the marker and cleans up, in that order, after the packages', () => {
    const hcl = have.get('debian-12/debian-12.pkr.hcl')?.content ?? ''
    const steps = [...hcl.matchAll(/bake\.sh (\w+) /g)].map((m) => m[1])
    assert.deepEqual(steps, ['files', 'packages', 'images', 'marker', 'cleanup'])
  })
})
