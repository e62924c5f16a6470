import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {inlineSources, loadAssets} from '../../../src/app/assets.js'
import {loadImageAssets} from '../../../src/app/image.js'

describe('shipped programs', () => {
  test('every program that reads parameters carries params.sh inline, so a node needs nothing beside it', () => {
    const a = loadAssets()
    const programs = {
      'bootstrap.sh': a.bootstrapScript,
      'cert-renewal.sh': a.certRenewalScript,
      'install-packages.sh': a.installScript,
      'bundle.sh': a.bundleScript ?? '',
      'token-calendar.sh': a.tokenCalendarScript,
      'install-packages.sh (Packer)': loadImageAssets().installScript,
      'bake.sh (Packer)': loadImageAssets().bakeScript,
      'bundle.sh (Packer)': loadImageAssets().bundleScript,
    }
    for (const [name, text] of Object.entries(programs)) {
      assert.doesNotMatch(text, /nodegen: inline|\/(params|status)\.sh"/, name)
      assert.equal(text.match(/^read_params\(\) \{$/gm)?.length, 1, `${name}: the reader once`)
      assert.ok(text.startsWith('#!/usr/bin/env bash\n'), name)
    }
    for (const name of ['bootstrap.sh', 'cert-renewal.sh', 'bake.sh (Packer)'] as const)
      assert.equal(programs[name].match(/^json_string\(\) \{$/gm)?.length, 1, `${name}: status helpers once`)
  })

  test('inlining replaces the sourcing line and its shellcheck directive, and only those', () => {
    const program = [
      '#!/usr/bin/env bash',
      '# shellcheck source-path=SCRIPTDIR source=lib.sh',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own expansion
      '. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # nodegen: inline',
      '. "$ROOT/other.sh"',
      'main',
      '',
    ].join('\n')
    const got = inlineSources(program, (name) => `# shellcheck shell=bash\n# from ${name}\nf() { :; }\n`)
    assert.equal(got, ['#!/usr/bin/env bash', '# from lib.sh', 'f() { :; }', '. "$ROOT/other.sh"', 'main', ''].join('\n'))
  })

  test('a library in a sibling folder of assets/ is inlined by its relative path', () => {
    const program = [
      '# shellcheck source-path=SCRIPTDIR source=../bootstrap/params.sh',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own expansion
      '. "$(dirname "${BASH_SOURCE[0]}")/../bootstrap/params.sh" # nodegen: inline',
      '',
    ].join('\n')
    const asked: string[] = []
    assert.equal(
      inlineSources(program, (name) => {
        asked.push(name)
        return 'p() { :; }\n'
      }),
      'p() { :; }\n',
    )
    assert.deepEqual(asked, ['../bootstrap/params.sh'])
  })
})
