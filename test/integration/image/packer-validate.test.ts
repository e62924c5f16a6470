/**
 * `nodegen image validate` with the installed Packer (Debian's 1.6.6 in the test setup): every OS ×
 * builder template, generated for that version, passes `packer validate`; a bad value fails just
 * the builder it belongs to; builds that cannot succeed here fail with Packer's own messages.
 */
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {describe, it} from 'node:test'
import {loadImageAssets} from '../../../src/app/image.js'
import {buildImage, detectPacker, ImageError} from '../../../src/image/index.js'
import {nodegen} from '../../support/cli.js'
import {copyFixtureState, fixtureCluster} from '../../support/pki-fixture.js'
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
  it('every script under packer/ passes shellcheck (kept once, in packer/scripts/)', (t) => {
    const sc = requireTool(t, 'shellcheck')
    const dir = path.join(REPO_ROOT, 'packer', 'scripts')
    const scripts = readdirSync(dir).map((f) => path.join(dir, f))
    assert.deepEqual(readdirSync(dir).sort(), ['bake.sh', 'install-packages.sh'])
    const out = run(sc, ['-S', 'style', ...scripts], {allowFail: true})
    assert.equal(out.status, 0, out.stdout)
  })
})

describe('the runner with the real packer: failures are reported in its words', () => {
  const noCloud = {
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_EC2_METADATA_DISABLED: 'true',
  }

  async function failingBuild(builder: 'qemu' | 'amazon-ebs', vars: Record<string, string>) {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'ng-image-real-'))
    const saved = Object.fromEntries(Object.keys(noCloud).map((k) => [k, process.env[k]]))
    Object.assign(process.env, noCloud)
    try {
      const state = copyFixtureState('quickstart', path.join(tmp, 'state'))
      const seen: string[] = []
      const err = await buildImage({
        cluster: fixtureCluster('quickstart'),
        os: 'debian-12',
        builder,
        packer: detectPacker(),
        buildDir: path.join(tmp, 'build'),
        stateDir: state,
        assets: loadImageAssets(),
        vars,
        now: () => new Date(),
        onMilestone: (m) => seen.push(m),
      }).then(
        () => undefined,
        (e: unknown) => e,
      )
      assert.ok(err instanceof ImageError, String(err))
      assert.equal(err.code, 'NG1003')
      assert.equal(existsSync(path.join(state, 'images.json')), false)
      return {message: err.message, log: readFileSync(path.join(tmp, 'build', 'packer.log'), 'utf8'), seen}
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
      rmSync(tmp, {recursive: true, force: true})
    }
  }

  it('qemu with a disk image that is not there', async (t) => {
    requireTool(t, 'packer')
    const r = await failingBuild('qemu', {
      qemu_image_url: 'file:///nonexistent/nodegen-test.qcow2',
      qemu_image_checksum: 'none',
      qemu_accelerator: 'tcg',
    })
    assert.match(r.message, /^packer build failed for debian-12 \(qemu\) with exit 1: .*nodegen-test\.qcow2/)
    assert.match(r.log, /,ui,/, 'the machine-readable output is in the log')
  })

  it('amazon-ebs without credentials', async (t) => {
    requireTool(t, 'packer')
    const r = await failingBuild('amazon-ebs', {aws_region: 'eu-west-1'})
    assert.match(r.message, /packer build failed for debian-12 \(amazon-ebs\) with exit 1: .*NoCredentialProviders/)
    assert.doesNotMatch(r.message, /Some builds didn't complete/)
  })
})
