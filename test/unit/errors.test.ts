/**
 * The one error shape: every catalogue's error is a CodedError (so the base command prints it as
 * `<code>: <message>` with exit 1), the codes of all catalogues are distinct, and a message is its
 * catalogue template with the parameters filled in.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {BUNDLE_CATALOGUE, BundleError} from '../../src/app/bundle/errors.js'
import {RenderError} from '../../src/app/render.js'
import {LaunchError} from '../../src/cloud/types.js'
import {CodedError, UserError} from '../../src/errors.js'
import {IMAGE_CATALOGUE, ImageError} from '../../src/image/errors.js'
import {PKI_CATALOGUE, PkiError} from '../../src/pki/errors.js'
import {UPGRADE_CATALOGUE, UpgradeError} from '../../src/plan/upgrade.js'
import {CATALOGUE} from '../../src/profile/diagnostics.js'

describe('coded errors', () => {
  it('every catalogue error is a CodedError with its code and filled message', () => {
    const cases: Array<[CodedError, string, string]> = [
      [new PkiError('NG0910', {value: '3x'}), 'NG0910', '3x is not a duration (like 30d, 720h, 1h30m)'],
      [new ImageError('NG1006', {builder: 'qemu', field: 'iso_url', variable: 'iso_url'}), 'NG1006', 'the qemu build needs iso_url'],
      [
        new BundleError('NG1103', {url: 'https://user:pw@mirror.example/x', reason: 'refused'}),
        'NG1103',
        'cannot download https://mirror.example/x',
      ],
      [new UpgradeError('NG1201', {from: 'v9'}), 'NG1201', 'v9'],
    ]
    for (const [e, code, text] of cases) {
      assert.ok(e instanceof CodedError && e instanceof UserError, e.name)
      assert.equal(e.code, code)
      assert.ok(e.message.includes(text), `${e.name}: ${e.message}`)
      assert.doesNotMatch(e.message, /\{\w+\}/, 'every placeholder filled')
    }
  })

  it('a missing parameter stays visible rather than printing "undefined"', () => {
    assert.match(new PkiError('NG0901', {dir: '/s'}).message, /\{profile\}/)
  })

  it('render and launch problems are user errors without a code', () => {
    assert.ok(new RenderError('x') instanceof UserError)
    assert.ok(new LaunchError('x') instanceof UserError)
    assert.ok(!(new RenderError('x') instanceof CodedError))
  })

  it('no code is in two catalogues', () => {
    const seen = new Map<string, string>()
    const all = {profile: CATALOGUE, pki: PKI_CATALOGUE, image: IMAGE_CATALOGUE, bundle: BUNDLE_CATALOGUE, upgrade: UPGRADE_CATALOGUE}
    for (const [name, cat] of Object.entries(all))
      for (const code of Object.keys(cat)) {
        assert.ok(!seen.has(code), `${code} is in the ${seen.get(code)} and the ${name} catalogue`)
        seen.set(code, name)
      }
    assert.ok(seen.size > 100)
  })
})
