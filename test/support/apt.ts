/** A scratch apt tree: the real apt-get reads only the sources a test puts there, nothing of the host's. */
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import path from 'node:path'

/**
 * Makes an empty apt tree in a new directory under `parent` with `lists` as its sources.list.d
 * files, and returns the directory and the `-o` options that point apt-get at it. With
 * `sourcesList`, the tree has that sources.list and apt reads it as it reads a machine's.
 */
export function scratchApt(
  parent: string,
  lists: Record<string, string>,
  opts: {sourcesList?: string} = {},
): {dir: string; options: string[]} {
  const dir = mkdtempSync(path.join(parent, 'apt-'))
  for (const d of ['etc/sources.list.d', 'etc/preferences.d', 'lists/partial', 'cache/archives/partial'])
    mkdirSync(path.join(dir, d), {recursive: true})
  for (const [name, text] of Object.entries(lists)) writeFileSync(path.join(dir, 'etc/sources.list.d', name), text)
  if (opts.sourcesList !== undefined) writeFileSync(path.join(dir, 'etc/sources.list'), opts.sourcesList)
  writeFileSync(path.join(dir, 'status'), '')
  const options = [
    `Dir::Etc=${dir}/etc`,
    ...(opts.sourcesList === undefined ? ['Dir::Etc::sourcelist=/dev/null'] : []),
    `Dir::State::lists=${dir}/lists`,
    `Dir::State::status=${dir}/status`,
    `Dir::Cache=${dir}/cache`,
  ].flatMap((o) => ['-o', o])
  return {dir, options}
}
