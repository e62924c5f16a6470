import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {emitCloudInit} from '../../../src/emit/cloud-init/index.js'
import {fixturePlan} from '../../support/plan-fixture.js'
import {requireTool, run} from '../../support/tools.js'

describe('cloud-init accepts what the emitter writes', () => {
  it('cloud-init schema --config-file passes', (t) => {
    const ci = requireTool(t, 'cloud-init')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ng-ci-'))
    try {
      const f = path.join(dir, 'user-data')
      writeFileSync(f, emitCloudInit(fixturePlan()).userData)
      const r = run(ci, ['schema', '--config-file', f], {allowFail: true})
      assert.equal(r.status, 0, r.stdout + r.stderr)
      assert.match(r.stdout, /Valid cloud-config/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe("cloud-init's network renderers give the node its default route", () => {
  // cloud-init's ifupdown renderer writes a route to 0.0.0.0/0 as `post-up route add … || true`,
  // which fails silently where net-tools is missing (Debian's minimal and cloud images): the node
  // then has no default route, and kubeadm and flannel find no interface. Each renderer must write
  // the gateway natively.
  const renderers: Array<[string, string, RegExp]> = [
    ['eni', 'debian', /^\s*gateway 10\.0\.0\.1$/m],
    ['sysconfig', 'rhel', /^GATEWAY=10\.0\.0\.1$/m],
    ['networkd', 'debian', /^Gateway=10\.0\.0\.1$/m],
    ['netplan', 'ubuntu', /gateway4: 10\.0\.0\.1|to: default|to: 0\.0\.0\.0\/0/],
  ]
  for (const [renderer, distro, want] of renderers) {
    it(`${renderer} (${distro})`, (t) => {
      const ci = requireTool(t, 'cloud-init')
      const plan = fixturePlan()
      const dir = mkdtempSync(path.join(os.tmpdir(), 'ng-net-'))
      try {
        const nc = emitCloudInit({
          ...plan,
          network: {...(plan.network as NonNullable<typeof plan.network>), gateway: '10.0.0.1'},
        }).networkConfig
        assert.ok(nc, 'the fixture node has a network-config')
        writeFileSync(path.join(dir, 'network-config'), nc)
        const out = path.join(dir, 'out')
        const r = run(
          ci,
          ['devel', 'net-convert', '-p', path.join(dir, 'network-config'), '-k', 'yaml', '-d', out, '-D', distro, '-O', renderer],
          {
            allowFail: true,
          },
        )
        assert.equal(r.status, 0, r.stdout + r.stderr)
        const files = run('find', [out, '-type', 'f']).stdout.trim().split('\n')
        const text = files.map((f) => readFileSync(f, 'utf8')).join('\n')
        assert.match(text, want, `${renderer} wrote no default route:\n${text}`)
        assert.doesNotMatch(text, /route add/, `${renderer} adds the route with net-tools' route:\n${text}`)
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    })
  }
})
