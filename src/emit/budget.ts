/**
 * Fitting user-data into the platform's limit: raw when it fits, gzip where the platform's agent
 * decompresses it (cloud-init on EC2, OpenStack, NoCloud; on GCE only base64-encoded with the
 * `user-data-encoding: base64` metadata key), and otherwise a clear error naming the largest parts.
 */
import {gzipSync} from 'node:zlib'
import type {NodePlan} from '../plan/types.js'
import type {PlatformType} from '../profile/index.js'
import {type IgnitionSpec, wrapIgnition} from './ignition/index.js'

/**
 * raw; gzip (the platform's agent decompresses); gzip+base64 (GCE); gzip-replace (Ignition: a
 * small config whose `ignition.config.replace` is a gzip-compressed data URL of the real one).
 */
export type UserDataEncoding = 'raw' | 'gzip' | 'gzip+base64' | 'gzip-replace'

export interface FittedUserData {
  /** The bytes to hand to the platform (for gzip+base64, the base64 text). */
  data: Buffer
  encoding: UserDataEncoding
  /** Size before compression. */
  rawSize: number
  /** Size as the platform counts it. */
  size: number
  budget: number
}

export interface BudgetProblem {
  node: string
  size: number
  budget: number
  largest: Array<{path: string; bytes: number}>
}

/**
 * gzip output must be byte-identical for identical input: Node's zlib writes no timestamp or name
 * into the header, so the only input is the level.
 */
export function fitUserData(raw: Buffer, plan: NodePlan, platform: PlatformType): FittedUserData | BudgetProblem {
  const budget = plan.sizeBudget
  if (raw.length <= budget) return {data: raw, encoding: 'raw', rawSize: raw.length, size: raw.length, budget}
  const gz = gzipSync(raw, {level: 9})
  if (platform === 'gcp') {
    const b64 = Buffer.from(gz.toString('base64'))
    if (b64.length <= budget) return {data: b64, encoding: 'gzip+base64', rawSize: raw.length, size: b64.length, budget}
    return problem(plan, b64.length, budget)
  }
  if (gz.length <= budget) return {data: gz, encoding: 'gzip', rawSize: raw.length, size: gz.length, budget}
  return problem(plan, gz.length, budget)
}

/**
 * Ignition's user-data: raw when it fits; otherwise, since Ignition decompresses no gzipped
 * user-data on EC2 or GCE, a small config that replaces itself with the real one from a
 * gzip-compressed `data:` URL (Ignition resolves `ignition.config.replace` before any stage runs).
 */
export function fitIgnition(raw: Buffer, plan: NodePlan, spec: IgnitionSpec): FittedUserData | BudgetProblem {
  const budget = plan.sizeBudget
  if (raw.length <= budget) return {data: raw, encoding: 'raw', rawSize: raw.length, size: raw.length, budget}
  const wrapped = wrapIgnition(raw, spec)
  if (wrapped.length <= budget) return {data: wrapped, encoding: 'gzip-replace', rawSize: raw.length, size: wrapped.length, budget}
  return problem(plan, wrapped.length, budget)
}

function problem(plan: NodePlan, size: number, budget: number): BudgetProblem {
  const largest = plan.files
    .map((f) => ({path: f.path, bytes: Buffer.byteLength(f.content)}))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 5)
  return {node: plan.node, size, budget, largest}
}

export function isBudgetProblem(x: FittedUserData | BudgetProblem): x is BudgetProblem {
  return !('encoding' in x)
}
