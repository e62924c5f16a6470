#!/usr/bin/env node
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import os from 'node:os'
import {pathToFileURL} from 'node:url'

if (process.argv[2] === '--version') {
  // What oclif prints for --version (its config.userAgent), without loading oclif: @oclif/core and
  // its configuration cost more than the rest of the process. The platform is oclif's: `wsl` under
  // WSL (its own wsl-utils says), else os.platform().
  const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  const require = createRequire(import.meta.url)
  const core = createRequire(require.resolve('@oclif/core'))
  const {isWsl} = await import(pathToFileURL(core.resolve('wsl-utils')).href)
  const platform = isWsl ? 'wsl' : os.platform()
  const arch = os.arch() === 'ia32' ? 'x86' : os.arch()
  process.stdout.write(`${pjson.name}/${pjson.version || '0.0.0'} ${platform}-${arch} node-${process.version}\n`)
} else {
  const {execute} = await import('../dist/cli.js')
  await execute({dir: import.meta.url})
}
