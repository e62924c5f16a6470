/**
 * The output writer: a render builds into a temporary directory beside the target and swaps it in
 * at the end, so an interrupted render (Ctrl-C, SIGKILL, a full disk) leaves the previous output
 * whole. Secrets are written 0600 from the first byte (the mode is set at open, not after).
 */

import {spawnSync} from 'node:child_process'
import fs, {
  closeSync,
  createWriteStream,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  type WriteStream,
  writeSync,
  writevSync,
} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import path from 'node:path'

/**
 * Writes files into an existing temporary output directory. OutputDir owns the directory and its
 * swap; render's worker threads each write their nodes' files through one of these over the same
 * directory and report what they wrote back.
 */
export class DirWriter {
  bytes = 0
  files = 0
  readonly written: string[] = []
  private readonly dirs = new Set<string>()

  private readonly pending: Array<Promise<void>> = []
  private readonly madeDirs = new Map<string, Promise<unknown>>()

  constructor(
    readonly tmp: string,
    private readonly async = false,
  ) {}

  /** Absolute path inside the temporary directory, creating parents. */
  pathFor(rel: string): string {
    const p = this.inside(rel)
    const dir = path.dirname(p)
    if (dir !== this.tmp && !this.dirs.has(dir)) {
      mkdirSync(dir, {recursive: true, mode: 0o755})
      this.dirs.add(dir)
    }
    return p
  }

  private inside(rel: string): string {
    const p = path.join(this.tmp, rel)
    if (!p.startsWith(this.tmp + path.sep)) throw new Error(`internal: output path ${rel} escapes the output directory`)
    return p
  }

  /** An asynchronous writer's parent directory, made once however many files go into it. */
  private dirMade(dir: string): Promise<unknown> | undefined {
    if (dir === this.tmp) return undefined
    let made = this.madeDirs.get(dir)
    if (!made) {
      made = mkdir(dir, {recursive: true, mode: 0o755})
      this.madeDirs.set(dir, made)
    }
    return made
  }

  writeFile(rel: string, data: string | Uint8Array, mode = 0o644): void {
    this.writeChunks(rel, [typeof data === 'string' ? Buffer.from(data) : data], mode)
  }

  /**
   * Streams chunks (an ISO image, sector by sector) into one file. Runs of zeros (an ISO's system
   * area and sector padding) are left as holes: the file reads the same and costs less to write.
   * An asynchronous writer (render's worker threads) queues the file and goes on: the opening and
   * writing happen on libuv's threads while the caller renders the next node; settled() waits.
   */
  writeChunks(rel: string, chunks: Iterable<Uint8Array>, mode = 0o644): void {
    const p = this.async ? this.inside(rel) : this.pathFor(rel)
    const {runs, size} = dataRuns(chunks)
    this.bytes += size
    this.written.push(p)
    this.files++
    if (this.async) {
      this.pending.push(writeRunsAsync(p, runs, size, mode, this.dirMade(path.dirname(p))))
      return
    }
    const fd = openSync(p, 'w', mode)
    try {
      for (const r of runs) writeRun(fd, r)
      ftruncateSync(fd, size)
    } finally {
      closeSync(fd)
    }
  }

  /** Waits for every file an asynchronous writer queued to be written or to fail; throws the first error. */
  async settled(): Promise<void> {
    const results = await Promise.allSettled(this.pending.splice(0))
    const failed = results.find((r) => r.status === 'rejected')
    if (failed) throw failed.reason
  }

  /** A write stream for a file (bundles); the caller awaits its close. */
  createStream(rel: string, mode = 0o644): WriteStream {
    this.files++
    return createWriteStream(this.pathFor(rel), {mode})
  }

  /** Counts files another writer (a worker thread) wrote into the same directory. */
  adopt(written: string[], bytes: number): void {
    for (const p of written) this.written.push(p)
    this.files += written.length
    this.bytes += bytes
  }
}

export class OutputDir extends DirWriter {
  readonly final: string
  private readonly prev: string
  private committed = false

  constructor(finalDir: string) {
    const final = path.resolve(finalDir)
    const parent = path.dirname(final)
    const base = path.basename(final)
    mkdirSync(parent, {recursive: true})
    const prev = path.join(parent, `.${base}.previous`)
    recoverInterruptedSwap(final, prev)
    // Leftovers of renders that were killed: never the output, safe to remove.
    for (const e of readdirSync(parent)) {
      if (e.startsWith(`.${base}.tmp-`)) rmSync(path.join(parent, e), {recursive: true, force: true})
    }
    const tmp = path.join(parent, `.${base}.tmp-${process.pid}`)
    mkdirSync(tmp, {mode: 0o755})
    super(tmp)
    this.final = final
    this.prev = prev
  }

  /** Swaps the new output in: old → .previous, new → final, then the old one is removed. */
  commit(): void {
    // One syncfs for the whole output instead of an fsync per file (thousands on a large render):
    // everything is on disk before the rename makes it visible.
    if (spawnSync('sync', ['-f', this.tmp]).status !== 0) {
      for (const p of this.written) {
        const fd = openSync(p, 'r')
        try {
          fsyncSync(fd)
        } finally {
          closeSync(fd)
        }
      }
    }
    fsyncDir(this.tmp)
    if (existsSync(this.final)) renameSync(this.final, this.prev)
    renameSync(this.tmp, this.final)
    fsyncDir(path.dirname(this.final))
    rmSync(this.prev, {recursive: true, force: true})
    this.committed = true
  }

  abort(): void {
    if (!this.committed) rmSync(this.tmp, {recursive: true, force: true})
  }
}

const ZEROS = new Uint8Array(65536)

/** A run of data chunks written back to back at `pos`. */
interface Run {
  pos: number
  bufs: Uint8Array[]
  length: number
}

/** The data runs of a file made of chunks, zero chunks of 4 KiB or more left out as holes. */
function dataRuns(chunks: Iterable<Uint8Array>): {runs: Run[]; size: number} {
  const runs: Run[] = []
  let pos = 0
  let run: Run | undefined
  for (const buf of chunks) {
    if (buf.length >= 4096 && isZero(buf)) {
      run = undefined
    } else if (buf.length > 0) {
      if (!run) {
        run = {pos, bufs: [], length: 0}
        runs.push(run)
      }
      run.bufs.push(buf)
      run.length += buf.length
    }
    pos += buf.length
  }
  return {runs, size: pos}
}

function writeRun(fd: number, r: Run): void {
  let done = writevSync(fd, r.bufs as NodeJS.ArrayBufferView[], r.pos)
  if (done === r.length) return
  // A short writev (rare on a regular file): the rest byte-wise.
  const all = Buffer.concat(r.bufs)
  while (done < all.length) done += writeSync(fd, all, done, all.length - done, r.pos + done)
}

/**
 * A file written through libuv's thread pool with fs's callback functions: one promise per file.
 * (fs/promises' FileHandle cost about twice as much of the calling thread's time per file, which in
 * a large render is thousands of files per thread.)
 */
async function writeRunsAsync(p: string, runs: Run[], size: number, mode: number, dirMade?: Promise<unknown>): Promise<void> {
  await dirMade
  await new Promise<void>((resolve, reject) => {
    fs.open(p, 'w', mode, (err, fd) => {
      if (err) return reject(err)
      const finish = (failure: Error | null) =>
        fs.close(fd, (closeErr) => {
          const e = failure ?? closeErr
          if (e) reject(e)
          else resolve()
        })
      let i = 0
      const next = (): void => {
        const r = runs[i++]
        if (r) {
          writeRunAt(fd, r, 0, next, finish)
          return
        }
        // Trailing holes: the size comes from the truncate (one call fewer when data ends the file).
        const last = runs[runs.length - 1]
        if (!last || last.pos + last.length < size) fs.ftruncate(fd, size, (e) => finish(e))
        else finish(null)
      }
      next()
    })
  })
}

/** Writes run `r` from byte `done` on; a short write (rare on a regular file) continues where it stopped. */
function writeRunAt(fd: number, r: Run, done: number, then: () => void, fail: (e: Error) => void): void {
  const cont = (err: Error | null, n: number) => {
    if (err) fail(err)
    else if (done + n >= r.length) then()
    else writeRunAt(fd, r, done + n, then, fail)
  }
  if (done === 0) fs.writev(fd, r.bufs as NodeJS.ArrayBufferView[], r.pos, cont)
  else {
    const all = Buffer.concat(r.bufs)
    fs.write(fd, all, done, all.length - done, r.pos + done, cont)
  }
}

function isZero(buf: Uint8Array): boolean {
  for (let off = 0; off < buf.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, buf.length - off)
    if (Buffer.compare(buf.subarray(off, off + n), ZEROS.subarray(0, n)) !== 0) return false
  }
  return true
}

/** A render killed between the two renames of commit() left the old output under .previous. */
function recoverInterruptedSwap(finalDir: string, prev: string): void {
  if (!existsSync(finalDir) && existsSync(prev)) renameSync(prev, finalDir)
  else if (existsSync(finalDir) && existsSync(prev)) rmSync(prev, {recursive: true, force: true})
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Some filesystems refuse fsync on directories; the renames are still atomic.
  }
}
