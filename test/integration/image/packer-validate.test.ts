/**
 * `nodegen image validate` with the installed Packer (Debian's 1.6.6 in the test setup): every OS ×
 * builder template, generated for that version, passes `packer validate`; a bad value fails just
 * the builder it belongs to.
 */
import assert from 'node:assert/strict'
import {readdirSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {nodegen} from '../../support/cli.js'
import {REPO_ROOT} from '../../support/profiles.js'
import {requireTool, run} from '../../support/tools.js'

describe('nodegen image validate (real packer)', () => {
  it('every OS × builder is valid for the installed Packer', (t) => {
    requireTool(t, 'packer')
    // No network here: Packer's qemu validation would download the vendor's checksum lists.
    const r = nodegen(['image', 'validate', '--offline', '--json'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.results.length, 8 * 3)
    for (const e of out.results) assert.equal(e.ok, true, `${e.os} ${e.builder}: ${e.messages.join('; ')}`)
    if (/^1\.6\./.test(out.packerVersion)) assert.equal(out.requiredPlugins, false)
    assert.deepEqual(out.placeholders, {gcp_project_id: 'nodegen-validate'})
  })

  it('a bad value is reported for its builder only, with Packer’s message, and exits 1', (t) => {
    requireTool(t, 'packer')
    const r = nodegen(['image', 'validate', '--offline', '--os', 'debian-12', '--var', 'qemu_accelerator=bogus'])
    assert.equal(r.status, 1)
    assert.match(r.stdout, /debian-12\s+qemu\s+INVALID: .*invalid accelerator/)
    assert.match(r.stdout, /debian-12\s+amazon-ebs\s+valid/)
    assert.match(r.stdout, /debian-12\s+googlecompute\s+valid/)
    assert.match(r.stdout, /2\/3 templates valid/)
  })
})

describe('the provisioning scripts', () => {
  it('every script under packer/ passes shellcheck', (t) => {
    const sc = requireTool(t, 'shellcheck')
    const dir = path.join(REPO_ROOT, 'packer')
    const scripts = readdirSync(dir).flatMap((os) =>
      readdirSync(path.join(dir, os, 'image', 'scripts')).map((f) => path.join(dir, os, 'image', 'scripts', f)),
    )
    assert.equal(scripts.length, 8 * 2)
    const out = run(sc, ['-S', 'style', ...scripts], {allowFail: true})
    assert.equal(out.status, 0, out.stdout)
  })
})
