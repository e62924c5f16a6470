/** IPv4 arithmetic for validation and planning. Pure; no dependency on `node:net`. */

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])'
const IPV4_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`)

export function isIPv4(s: string): boolean {
  return IPV4_RE.test(s)
}

/** The address as an unsigned 32-bit number. The caller has checked {@link isIPv4}. */
export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0)
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')
}

export interface Cidr {
  /** The address as written (may have host bits set, as in a node's `10.0.0.110/24`). */
  address: string
  prefix: number
  /** First address of the network. */
  network: number
  /** Number of addresses in the network. */
  size: number
}

/** Parses `a.b.c.d/n`; undefined when it is not one. */
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(s)
  if (!m || !isIPv4(m[1] as string)) return undefined
  const prefix = Number(m[2])
  if (prefix > 32) return undefined
  const size = 2 ** (32 - prefix)
  const network = Math.floor(ipToInt(m[1] as string) / size) * size
  return {address: m[1] as string, prefix, network, size}
}

export function cidrContains(c: Cidr, ip: string): boolean {
  const n = ipToInt(ip)
  return n >= c.network && n < c.network + c.size
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network < b.network + b.size && b.network < a.network + a.size
}

export function cidrString(c: Cidr): string {
  return `${intToIp(c.network)}/${c.prefix}`
}

/** The n-th address of a network (kubeadm's cluster DNS is the service subnet's 10th). */
export function nthAddress(c: Cidr, n: number): string {
  return intToIp(c.network + n)
}

/** Dotted netmask for a prefix (`24` → `255.255.255.0`). */
export function netmask(prefix: number): string {
  return intToIp(prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)) >>> 0)
}

const MAC_RE = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/

/** Lowercase colon form, or undefined. */
export function normaliseMac(s: string): string | undefined {
  if (!MAC_RE.test(s)) return undefined
  return s.toLowerCase().replace(/-/g, ':')
}

/** RFC 1123 label, as kubeadm requires for node names that are also hostnames. */
export function isHostnameLabel(s: string): boolean {
  return s.length <= 63 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(s)
}

/** RFC 1123 subdomain (a DNS name). */
export function isDnsName(s: string): boolean {
  return s.length <= 253 && s.split('.').every((l) => isHostnameLabel(l))
}
