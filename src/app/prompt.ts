/** Reads a line from the terminal without echoing it (a passphrase); Ctrl-C rejects. */
export async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin
  process.stderr.write(question)
  stdin.setRawMode(true)
  stdin.resume()
  stdin.setEncoding('utf8')
  return new Promise((resolve, reject) => {
    let line = ''
    const done = (f: () => void) => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.off('data', onData)
      process.stderr.write('\n')
      f()
    }
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(() => resolve(line))
        if (ch === '\u0003') return done(() => reject(new Error('interrupted')))
        if (ch === '\u007f') line = line.slice(0, -1)
        else line += ch
      }
    }
    stdin.on('data', onData)
  })
}
