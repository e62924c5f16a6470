/**
 * The CLI's surface, checked in: every command, its arguments and flags (type, options, default,
 * required, relations) and whether it takes --json, in test/golden/cli/commands.json. A renamed
 * flag or a dropped option is a breaking change for scripts that call nodegen: it shows in review
 * and fails here until the golden file is regenerated with UPDATE_GOLDEN=1. Beside it, the rules
 * every command keeps: a summary, examples, and --help that prints them.
 */
import assert from 'node:assert/strict'
import {readdirSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'
import {pathToFileURL} from 'node:url'
import {nodegen} from '../support/cli.js'
import {matchGolden} from '../support/golden.js'
import {REPO_ROOT} from '../support/profiles.js'

const GOLDEN = path.join(REPO_ROOT, 'test', 'golden', 'cli', 'commands.json')
const COMMANDS = path.join(REPO_ROOT, 'src', 'commands')

interface FlagLike {
  type?: string
  char?: string
  options?: readonly string[]
  default?: unknown
  required?: boolean
  multiple?: boolean
  dependsOn?: string[]
  exclusive?: string[]
  allowNo?: boolean
}
interface CommandLike {
  summary?: string
  examples?: unknown[]
  enableJsonFlag?: boolean
  args?: Record<string, {required?: boolean; options?: readonly string[]}>
  flags?: Record<string, FlagLike>
}

function commandFiles(dir: string, prefix: string[] = []): Array<{id: string; file: string}> {
  const out: Array<{id: string; file: string}> = []
  for (const e of readdirSync(dir, {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory()) out.push(...commandFiles(path.join(dir, e.name), [...prefix, e.name]))
    else if (e.name.endsWith('.ts') && e.name !== 'base.ts' && !e.name.startsWith('_'))
      out.push({id: [...prefix, e.name.replace(/\.ts$/, '')].join(' '), file: path.join(dir, e.name)})
  }
  return out
}

async function surface() {
  const result: Record<string, unknown> = {}
  const meta: Record<string, CommandLike> = {}
  for (const {id, file} of commandFiles(COMMANDS)) {
    const mod = (await import(pathToFileURL(file).href)) as {default?: CommandLike}
    const c = mod.default
    if (!c) continue
    meta[id] = c
    const flags: Record<string, unknown> = {}
    for (const [name, f] of Object.entries(c.flags ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      flags[name] = {
        type: f.type,
        ...(f.char ? {char: f.char} : {}),
        ...(f.options ? {options: [...f.options]} : {}),
        ...(f.default !== undefined && typeof f.default !== 'function' ? {default: f.default} : {}),
        ...(f.required ? {required: true} : {}),
        ...(f.multiple ? {multiple: true} : {}),
        ...(f.dependsOn ? {dependsOn: f.dependsOn} : {}),
        ...(f.exclusive ? {exclusive: f.exclusive} : {}),
      }
    }
    const args: Record<string, unknown> = {}
    for (const [name, a] of Object.entries(c.args ?? {}))
      args[name] = {required: a.required === true, ...(a.options ? {options: [...a.options]} : {})}
    result[id] = {json: c.enableJsonFlag !== false, args, flags}
  }
  return {result, meta}
}

describe('the CLI surface', () => {
  it('matches test/golden/cli/commands.json (UPDATE_GOLDEN=1 to accept a change)', async () => {
    const {result} = await surface()
    const text = `${JSON.stringify(result, null, 2)}\n`
    // biome formats the committed file: compared as data.
    matchGolden(path.dirname(GOLDEN), [[path.basename(GOLDEN), text]], (actual, golden) =>
      assert.deepEqual(JSON.parse(actual), JSON.parse(golden)),
    )
  })

  it('every command has a summary and examples, and --help prints them', async () => {
    const {meta} = await surface()
    for (const [id, c] of Object.entries(meta)) {
      assert.ok(c.summary && c.summary.length > 10, `${id}: no summary`)
      assert.ok((c.examples?.length ?? 0) > 0, `${id}: no examples`)
      const r = nodegen([...id.split(' '), '--help'])
      assert.equal(r.status, 0, `${id} --help: ${r.stderr}`)
      assert.match(r.stdout, /EXAMPLES/, `${id} --help shows no examples`)
    }
  })
})
