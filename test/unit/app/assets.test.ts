import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {inlineSources, loadAssets} from '../../../src/app/assets.js'

describe('shipped programs', () => {
  test('the bootstrap and certificate renewal programs carry lib.sh inline, so a node needs nothing beside them', () => {
    const a = loadAssets()
    for (const [name, text] of [
      ['bootstrap.sh', a.bootstrapScript],
      ['cert-renewal.sh', a.certRenewalScript],
    ] as const) {
      assert.doesNotMatch(text, /nodegen: inline|lib\.sh"/, name)
      assert.match(text, /^read_params\(\) \{$/m, name)
      assert.match(text, /^json_string\(\) \{$/m, name)
      assert.equal(text.match(/^read_params\(\) \{$/gm)?.length, 1, `${name}: the reader once`)
      assert.ok(text.startsWith('#!/usr/bin/env bash\n'), name)
    }
  })

  test('inlining replaces the sourcing line and its shellcheck directive, and only those', () => {
    const program = [
      '#!/usr/bin/env bash',
      '# shellcheck source=lib.sh',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own expansion
      '. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # nodegen: inline',
      '. "$ROOT/other.sh"',
      'main',
      '',
    ].join('\n')
    const got = inlineSources(program, (name) => `# shellcheck shell=bash\n# from ${name}\nf() { :; }\n`)
    assert.equal(got, ['#!/usr/bin/env bash', '# from lib.sh', 'f() { :; }', '. "$ROOT/other.sh"', 'main', ''].join('\n'))
  })
})
