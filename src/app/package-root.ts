/** Where the package's own files are, found from this module. */
import {existsSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * The package's own directory (profiles/, schema/, packer/, assets/ and dist/ live there): the
 * nearest directory above this module holding package.json. This module is src/app/ or dist/app/ as
 * tsc emits it, or part of a shared chunk or a command's file in the bundled CLI
 * (scripts/bundle.mjs), so its depth varies.
 */
export const PACKAGE_ROOT = packageRoot(path.dirname(fileURLToPath(import.meta.url)))

function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) throw new Error(`internal: no package.json above ${from}`)
  }
}
