/**
 * The command-line values more than one command parses, each with the message that names the flag.
 * A parser calls `fail` (the command's usage error, exit 2) instead of throwing.
 */

/** `--at`: an ISO 8601 time; default now (the command layer owns the clock). */
export function parseAt(value: string | undefined, fail: (message: string) => never): Date {
  if (value === undefined) return new Date()
  const d = new Date(value)
  if (Number.isNaN(d.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value))
    fail(`--at ${value} is not an ISO 8601 time (like 2026-12-24 or 2026-12-24T08:00:00Z)`)
  return d
}

/** `--var NAME=VALUE` into a map; a name is what HCL allows. */
export function parseVars(list: string[], fail: (message: string) => never): Record<string, string> {
  const out: Record<string, string> = {}
  for (const v of list) {
    const i = v.indexOf('=')
    const name = i < 0 ? v : v.slice(0, i)
    if (i < 0 || !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) fail(`--var ${v}: expected NAME=VALUE`)
    out[name] = v.slice(i + 1)
  }
  return out
}
