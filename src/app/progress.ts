/**
 * Progress for long work: a redrawn bar with counts on a terminal, nothing but a final line when
 * not on one (CI logs stay line-oriented and quiet).
 */
export interface Progress {
  tick(label?: string): void
  done(summary: string): void
}

export function progress(total: number, what: string, stream: NodeJS.WriteStream = process.stderr, enabled = true): Progress {
  const tty = enabled && stream.isTTY === true
  let n = 0
  let last = 0
  const draw = (label: string) => {
    const width = 30
    const filled = total === 0 ? width : Math.round((n / total) * width)
    stream.write(`\r\x1b[2K${what} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n}/${total} ${label}`)
  }
  return {
    tick(label = '') {
      n++
      if (!tty) return
      const now = Date.now()
      if (now - last > 50 || n === total) {
        last = now
        draw(label)
      }
    },
    done(summary: string) {
      if (tty) stream.write('\r\x1b[2K')
      if (enabled) stream.write(`${summary}\n`)
    },
  }
}
