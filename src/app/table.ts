/** Plain-text tables for human output (the --json form carries the same data). */
export function table(headers: string[], rows: Array<Array<string | number | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined ? '-' : String(c))))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()
  return [line(headers), ...cells.map(line)].join('\n')
}

export {formatDuration} from '../profile/index.js'

/** `400d`, `23h`, `expired`: the time left, coarse like `kubeadm certs check-expiration`. */
export function residual(seconds: number): string {
  if (seconds <= 0) return 'expired'
  if (seconds >= 365 * 86400) return `${Math.floor(seconds / (365 * 86400))}y`
  if (seconds >= 86400) return `${Math.floor(seconds / 86400)}d`
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h`
  return `${Math.ceil(seconds / 60)}m`
}
