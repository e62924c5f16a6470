/**
 * Pure helpers both clouds use: stable names within each API's limits, idempotency tokens derived
 * from cluster and node, the role port table and node subnets the firewalls open, subnet membership
 * (on profile/net.ts's address arithmetic), a bounded pool, and error text.
 */
import {createHash} from 'node:crypto'
import {firewallRules} from '../plan/params.js'
import type {Cluster, Role} from '../profile/index.js'
import {cidrContains, parseCidr} from '../profile/net.js'

function hex(s: string, n: number): string {
  return createHash('sha256').update(s).digest('hex').slice(0, n)
}

/**
 * `prefix-suffix` within `max` characters; a name that would be longer keeps its start and ends
 * with a hash of the whole, so two long cluster names never collide.
 */
export function boundedName(parts: string[], max: number): string {
  const full = parts.join('-')
  if (full.length <= max) return full
  return `${full.slice(0, max - 9).replace(/-+$/, '')}-${hex(full, 8)}`
}

/**
 * EC2's ClientToken (at most 64 ASCII characters): the same cluster and node give the same token, so
 * the SDK's own retries and a re-run after a crash never start a second instance. `attempt` moves
 * on only when the token's instance was terminated (a destroyed cluster launched again).
 */
export function clientToken(cluster: string, node: string, attempt = 0): string {
  return `nodegen-${hex(`nodegen/${cluster}/${node}/${attempt}`, 48)}`
}

/** GCE's requestId must be a UUID: a name-based one (version 5 layout) from cluster, node and what. */
export function requestId(...parts: string[]): string {
  const h = createHash('sha256')
    .update(`nodegen/${parts.join('/')}`)
    .digest()
  h[6] = (h[6]! & 0x0f) | 0x50
  h[8] = (h[8]! & 0x3f) | 0x80
  const x = h.subarray(0, 16).toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
}

export interface PortRange {
  protocol: 'tcp' | 'udp'
  from: number
  to: number
}

export interface RolePorts {
  role: Role
  ports: PortRange[]
  /** IP protocols allowed whole, by number (4: calico's IP-in-IP) */
  protocols: number[]
}

/**
 * The cloud firewall's port and protocol table per role present in the cluster: the same table the
 * node's own firewall gets (plan/params.ts firewallRules), so the two never disagree.
 */
export function rolePortTable(cluster: Cluster): RolePorts[] {
  const out: RolePorts[] = []
  for (const role of ['control-plane', 'etcd', 'worker'] as const) {
    const node = cluster.nodes.find((n) => n.role === role)
    if (!node) continue
    const rules = firewallRules(cluster, node)
    const ports = rules.ports.map((p) => {
      const [range, protocol] = p.split('/') as [string, 'tcp' | 'udp']
      const [from, to] = range.split('-').map(Number) as [number, number | undefined]
      return {protocol, from, to: to ?? from}
    })
    ports.sort((a, b) => (a.protocol === b.protocol ? a.from - b.from : a.protocol < b.protocol ? -1 : 1))
    out.push({role, ports, protocols: rules.protocols})
  }
  return out
}

/** The distinct subnets (CIDR) of the cluster's nodes, in profile order: the firewall's sources. */
export function nodeSubnets(cluster: Cluster): string[] {
  return [...new Set(cluster.nodes.map((n) => n.subnet))]
}

/** Whether a CIDR written as text (a subnet's CidrBlock, a node's subnet) holds the address. */
export function inCidr(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr)
  return c !== undefined && cidrContains(c, ip)
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping results in input order. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return out
}

export function errorText(e: unknown): string {
  const err = e as {name?: string; Code?: string; code?: string | number; message?: string}
  const code = err.Code ?? (typeof err.code === 'string' ? err.code : undefined) ?? (err.name !== 'Error' ? err.name : undefined)
  const msg = err.message ?? String(e)
  return code && !msg.startsWith(code) ? `${code}: ${msg}` : msg
}
