/**
 * The command-line values commands parse beyond oclif's types, each with the message that names the
 * flag. A parser calls `fail` (the command's usage error, exit 2) instead of throwing.
 */
import type {CodedError} from '../errors.js'
import {featuresFor, type PackerFeatures, parsePackerVersion} from '../image/index.js'
import {PkiError, parseWindow} from '../pki/index.js'

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

/** A window or lifetime (`--within`, `--ttl`): Go durations (720h, 1h30m) or days (30d), in seconds. */
export function parseWindowFlag(value: string, fail: (err: CodedError) => never): number {
  const seconds = parseWindow(value)
  if (seconds === undefined) fail(new PkiError('NG0910', {value}))
  return seconds as number
}

/** `--seed-ttl`: how long a served seed stays valid (30m, 2h), in seconds. */
export function parseSeedTtl(value: string, fail: (message: string) => never): number {
  const seconds = parseWindow(value)
  if (seconds === undefined) fail(`--seed-ttl ${value} is not a duration (like 30m, 2h)`)
  return seconds as number
}

/** `--listen ADDR:PORT` (an IPv6 address in brackets keeps its colons). */
export function parseListen(value: string, fail: (message: string) => never): {host: string; port: number} {
  const m = /^(.*):(\d+)$/.exec(value)
  if (!m) fail(`--listen ${value} is not ADDR:PORT`)
  return {host: m?.[1] as string, port: Number(m?.[2])}
}

/** `--packer-version X.Y.Z`: what templates for that Packer may use. */
export function parsePackerFeatures(value: string, fail: (message: string) => never): PackerFeatures {
  const v = parsePackerVersion(`Packer v${value}`)
  if (!v) fail(`--packer-version ${value} is not a version like 1.6.6`)
  return featuresFor(v as NonNullable<typeof v>)
}
