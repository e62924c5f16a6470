#!/usr/bin/env node
/**
 * Writes oclif.manifest.json (the commands' ids, flags and descriptions, so an installed nodegen
 * starts without importing every command module) from the built dist/commands, with @oclif/core's
 * own loader: what `oclif manifest` does, without the `oclif` packaging tool and its dependencies.
 * `npm run build` writes it with dist/, so a checkout (`npx nodegen` after `npm ci`) starts as fast
 * as an installed package and the manifest always describes the dist/ beside it; `--remove` deletes
 * it (a dist/ compiled by hand without it then loads every command module, which is slower but
 * right).
 *
 *   node scripts/oclif-manifest.mjs [--remove]      (`npm run build`, and so prepare and prepack, run it)
 */
import {existsSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {Plugin} from '@oclif/core'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const file = path.join(root, 'oclif.manifest.json')

if (process.argv[2] === '--remove') {
  rmSync(file, {force: true})
} else {
  if (!existsSync(path.join(root, 'dist', 'commands'))) throw new Error('dist/commands is missing: run `npm run build` first')
  const plugin = new Plugin({root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true})
  await plugin.load()
  const count = Object.keys(plugin.manifest.commands).length
  if (count === 0) throw new Error('no commands found under dist/commands')
  const tmp = `${file}.tmp-${process.pid}`
  writeFileSync(tmp, `${JSON.stringify(plugin.manifest, null, 2)}\n`)
  renameSync(tmp, file)
  console.error(`oclif.manifest.json: ${count} commands, version ${plugin.manifest.version}`)
}
