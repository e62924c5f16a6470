/**
 * Crash-safe file operations for the state dir: write to a temporary name, fsync, rename, fsync the
 * directory. A SIGKILL or power loss at any point leaves the old content or the new, never a mix. The
 * temporary names carry the writer's PID so a later writer can tell leftovers of a dead process from
 * work in progress. The store's writers use them, and so do the token calendar (../calendar.ts) and
 * the image records (src/image/records.ts), which keep their files in the same dir under the same
 * lock.
 */
import {randomBytes} from 'node:crypto'
import {promises as fs} from 'node:fs'
import path from 'node:path'

export const DIR_MODE = 0o700
export const FILE_MODE = 0o600

/** Marker in temporary names: `.<name>.nodegen-tmp-<pid>-<hex>`. */
const TMP_MARK = '.nodegen-tmp-'

export function tempName(base: string): string {
  return `.${base}${TMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`
}

/** Whether a process exists (EPERM means it does, under another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes temporary entries for `base` in `dir` left by processes that no longer run. */
export async function removeStaleTemps(dir: string, base?: string): Promise<void> {
  let names: string[]
  try {
    names = await fs.readdir(dir)
  } catch {
    return
  }
  for (const name of names) {
    const i = name.indexOf(TMP_MARK)
    if (!name.startsWith('.') || i < 0) continue
    if (base !== undefined && name.slice(1, i) !== base) continue
    const pid = Number(name.slice(i + TMP_MARK.length).split('-')[0])
    // A live process's temporaries are in use, this process's own included (two concurrent callers).
    if (processAlive(pid)) continue
    await fs.rm(path.join(dir, name), {recursive: true, force: true})
  }
}

export async function fsyncPath(p: string): Promise<void> {
  const h = await fs.open(p, 'r')
  try {
    await h.sync()
  } finally {
    await h.close()
  }
}

/** Creates a new file (never overwrites), writes it, sets its mode despite the umask and fsyncs it. */
export async function writeNewFile(p: string, content: string, mode = FILE_MODE): Promise<void> {
  const h = await fs.open(p, 'wx', mode)
  try {
    await h.chmod(mode)
    await h.writeFile(content, 'utf8')
    await h.sync()
  } finally {
    await h.close()
  }
}

export async function makeDir(p: string, mode = DIR_MODE): Promise<void> {
  await fs.mkdir(p, {mode})
  await fs.chmod(p, mode)
}

export interface TreeHooks {
  /** Called after each file is written and synced (tests slow the writer down with it). */
  onWrite?: (relPath: string) => void | Promise<void>
}

/**
 * Writes `files` (relative path → content) into a new directory `root`: directories 0700, files
 * 0600, everything fsynced, directories last and deepest first.
 */
export async function writeTree(root: string, files: ReadonlyMap<string, string>, hooks: TreeHooks = {}): Promise<void> {
  await makeDir(root)
  const dirs = new Set<string>()
  for (const rel of [...files.keys()].sort()) {
    const parts = rel.split('/')
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/')
      if (!dirs.has(d)) {
        dirs.add(d)
        await makeDir(path.join(root, d))
      }
    }
    await writeNewFile(path.join(root, rel), files.get(rel) as string)
    await hooks.onWrite?.(rel)
  }
  for (const d of [...dirs].sort((a, b) => b.split('/').length - a.split('/').length)) await fsyncPath(path.join(root, d))
  await fsyncPath(root)
}

/**
 * Publishes a fully written temporary directory under its final name. Returns false when the target
 * already holds something (another writer won the race); the temporary directory is then removed.
 * An empty target directory is replaced (rename(2) allows it), so `--state` may name an empty dir.
 */
export async function publishDir(tmp: string, target: string): Promise<boolean> {
  try {
    await fs.rename(tmp, target)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    await fs.rm(tmp, {recursive: true, force: true})
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false
    throw e
  }
  await fsyncPath(path.dirname(target))
  return true
}

/** Replaces (or creates) one file atomically: temp file beside it, fsync, rename, fsync the dir. */
export async function replaceFile(p: string, content: string, mode = FILE_MODE): Promise<void> {
  const tmp = path.join(path.dirname(p), tempName(path.basename(p)))
  try {
    await writeNewFile(tmp, content, mode)
    await fs.rename(tmp, p)
  } catch (e) {
    await fs.rm(tmp, {force: true})
    throw e
  }
  await fsyncPath(path.dirname(p))
}

/**
 * Creates `file` whole or not at all, and never over an existing one: a complete, fsynced temporary
 * file is hard-linked to the name. Returns false when `file` already exists (it is left as it is).
 */
export async function linkNewFile(file: string, content: string): Promise<boolean> {
  const tmp = path.join(path.dirname(file), tempName(path.basename(file)))
  try {
    await writeNewFile(tmp, content, FILE_MODE)
    try {
      await fs.link(tmp, file)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw e
    }
    await fsyncPath(path.dirname(file))
    return true
  } finally {
    await fs.rm(tmp, {force: true})
  }
}

/** mkdir -p for the directories above a state dir: the ones created here are 0700. */
export async function ensureParent(dir: string): Promise<void> {
  await fs.mkdir(path.dirname(dir), {recursive: true, mode: DIR_MODE})
}

/**
 * Runs `fn` holding `<dir>/.lock`. The lock is linked into place with its owner's PID already in it,
 * so it is never seen empty. A lock whose owner is dead is taken over; a live one is waited for up
 * to `waitMs`, then `onBusy` decides what to throw. (Two processes breaking the same stale lock at
 * the same instant could both proceed; nodegen is run by one operator, and the writes it guards are
 * themselves atomic.)
 */
export async function withLock<T>(
  dir: string,
  fn: () => Promise<T>,
  onBusy: (pid: number, lock: string) => Error,
  waitMs = 10_000,
): Promise<T> {
  const lock = path.join(dir, '.lock')
  const mine = path.join(dir, tempName('lock'))
  await writeNewFile(mine, `${process.pid}\n`)
  const deadline = Date.now() + waitMs
  try {
    for (;;) {
      try {
        await fs.link(mine, lock)
        break
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
        const pid = Number((await fs.readFile(lock, 'utf8').catch(() => '')).trim())
        if (!processAlive(pid)) {
          await fs.rm(lock, {force: true})
          continue
        }
        if (Date.now() > deadline) throw onBusy(pid, lock)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  } finally {
    await fs.rm(mine, {force: true})
  }
  try {
    return await fn()
  } finally {
    await fs.rm(lock, {force: true})
  }
}
