/**
 * `nodegen serve --bundle DIR`: the air-gap bundle served read-only beside the seeds, at the path
 * of the profile's spec.airgap.bundle URL (`/bundle/` when the profile names none), as the static
 * server docs/airgap.md asks for: GET and HEAD, single byte ranges, Content-Length, files streamed
 * from disk (image archives are hundreds of MB), no directory listings.
 *
 * No token is asked: a bundle holds public packages, public keys, images and a CNI manifest with no
 * Secret in it (`nodegen bundle` leaves such a manifest out, NG1118), and its integrity comes from
 * spec.airgap.sha256. What keeps secrets out of reach is where files may come from:
 *
 * - only the bundle's own layout is served (SHA256SUMS, Release.key, manifest.json and what is under
 *   kubernetes/, os/, images/, sysext/, cni/), so a stray file beside it (a GNUPGHOME, a copy of the
 *   state) is never served;
 * - the bundle is refused when it is, holds or sits inside the profile's state directory (NG1120);
 * - a request path is decoded segment by segment, and `..`, `.`, empty segments, and segments with
 *   `/`, `\` or NUL after decoding are refused, so `..` and `%2e%2e` cannot climb out;
 * - a file's real path (every symbolic link resolved) must lie inside the bundle or inside one of
 *   the link roots the operator names (--bundle-link-root: the artifact caches a bundle made of links,
 *   like scripts/build-bundle.sh's, points into); a link anywhere else is answered 404.
 */
import {existsSync, realpathSync, statSync} from 'node:fs'
import {open} from 'node:fs/promises'
import type {IncomingMessage, ServerResponse} from 'node:http'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import {BundleError} from './bundle/errors.js'

/** The top-level names of a bundle's layout (docs/airgap.md): nothing else under it is served. */
const BUNDLE_FILES = new Set(['SHA256SUMS', 'Release.key', 'manifest.json'])
const BUNDLE_DIRS = new Set(['kubernetes', 'os', 'images', 'sysext', 'cni'])

export interface ServedBundle {
  /** The bundle's real path. */
  root: string
  /** The URL path it is served under, starting and ending with `/`. */
  prefix: string
  /** Real paths links may point into besides the bundle. */
  linkRoots: string[]
}

/** The URL path a profile's bundle is served under: its spec.airgap.bundle's path, or `/bundle/`. */
export function bundleMount(bundleUrl: string | undefined): string {
  if (!bundleUrl) return '/bundle/'
  const p = new URL(bundleUrl).pathname
  return p.endsWith('/') ? p : `${p}/`
}

const inside = (file: string, dir: string) => file === dir || file.startsWith(dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`)

/**
 * Checks a bundle directory before it is served: it exists, holds SHA256SUMS (every bundle does),
 * and is neither the state directory nor holds it nor lies in it. Throws BundleError (NG1119,
 * NG1120, NG1121).
 */
export function openServedBundle(dir: string, prefix: string, stateDir: string, linkRoots: readonly string[]): ServedBundle {
  const real = (d: string, what: string) => {
    try {
      const r = realpathSync(d)
      if (!statSync(r).isDirectory()) throw new Error('not a directory')
      return r
    } catch (e) {
      throw new BundleError('NG1121', {what, dir: d, reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message})
    }
  }
  const root = real(dir, '--bundle')
  if (!existsSync(path.join(root, 'SHA256SUMS'))) throw new BundleError('NG1119', {dir})
  const state = existsSync(stateDir) ? realpathSync(stateDir) : path.resolve(stateDir)
  if (inside(root, state) || inside(state, root)) throw new BundleError('NG1120', {dir, state: stateDir})
  const roots = linkRoots.map((d) => real(d, '--bundle-link-root'))
  for (const r of roots) if (inside(state, r)) throw new BundleError('NG1120', {dir: r, state: stateDir})
  return {root, prefix, linkRoots: roots}
}

/** Whether a request path is the bundle's (under its prefix; at `/`, whatever serve's own routes do not take). */
export function isBundlePath(bundle: ServedBundle, pathname: string, reserved: ReadonlySet<string>): boolean {
  if (!pathname.startsWith(bundle.prefix)) return false
  if (bundle.prefix !== '/') return true
  return !reserved.has(pathname.split('/')[1] ?? '')
}

/**
 * The file a request path names, relative to the bundle, or undefined: the path decoded segment by
 * segment, within the bundle's layout, with no segment that could leave it.
 */
export function bundleRelativePath(bundle: ServedBundle, rawPath: string): string | undefined {
  const rest = rawPath.slice(bundle.prefix.length)
  const segments: string[] = []
  for (const raw of rest.split('/')) {
    let s: string
    try {
      s = decodeURIComponent(raw)
    } catch {
      return undefined
    }
    if (s === '' || s === '.' || s === '..' || /[/\\\0]/.test(s)) return undefined
    segments.push(s)
  }
  const [top] = segments
  if (top === undefined) return undefined
  if (segments.length === 1 ? !BUNDLE_FILES.has(top) : !BUNDLE_DIRS.has(top)) return undefined
  return segments.join('/')
}

/** A Range header against a size: one satisfiable byte range, 'unsatisfiable', or undefined (the whole file). */
export function parseRange(header: string | undefined, size: number): {start: number; end: number} | 'unsatisfiable' | undefined {
  if (!header) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  // Several ranges, or a unit other than bytes: the whole file, as RFC 9110 lets a server answer.
  if (!m) return undefined
  const [, a, b] = m
  if (a === '' && b === '') return undefined
  if (a === '') {
    const n = Number(b)
    if (n === 0) return 'unsatisfiable'
    return {start: Math.max(0, size - n), end: size - 1}
  }
  const start = Number(a)
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1)
  if (start >= size || start > end) return 'unsatisfiable'
  return {start, end}
}

const TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.gz': 'application/gzip',
  '.rpm': 'application/x-rpm',
  '.deb': 'application/vnd.debian.binary-package',
  '.tar': 'application/x-tar',
  '.yml': 'text/plain; charset=utf-8',
  '.yaml': 'text/plain; charset=utf-8',
})

/**
 * Answers one request for a bundle path: 200 or 206 with the file streamed, 404 for anything
 * outside the layout or the allowed roots, 405 for methods other than GET and HEAD, 416 for a range
 * past the end. Returns the status code.
 */
export async function serveBundleFile(bundle: ServedBundle, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<number> {
  const plain = (code: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(code, {'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers})
    res.end(req.method === 'HEAD' ? undefined : body)
    return code
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(405, 'method not allowed\n', {allow: 'GET, HEAD', connection: 'close'})
  const rel = bundleRelativePath(bundle, pathname)
  if (rel === undefined) return plain(404, 'not found\n')
  let real: string
  try {
    real = realpathSync(path.join(bundle.root, rel))
  } catch {
    return plain(404, 'not found\n')
  }
  if (!inside(real, bundle.root) && !bundle.linkRoots.some((r) => inside(real, r))) return plain(404, 'not found\n')
  let fh: Awaited<ReturnType<typeof open>>
  try {
    fh = await open(real, 'r')
  } catch {
    return plain(404, 'not found\n')
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) return plain(404, 'not found\n')
    const range = parseRange(req.headers.range, st.size)
    if (range === 'unsatisfiable') return plain(416, 'range not satisfiable\n', {'content-range': `bytes */${st.size}`})
    const start = range?.start ?? 0
    const end = range?.end ?? st.size - 1
    const length = st.size === 0 ? 0 : end - start + 1
    res.writeHead(range ? 206 : 200, {
      'content-type': TYPES[path.extname(rel)] ?? 'application/octet-stream',
      'content-length': String(length),
      'accept-ranges': 'bytes',
      'last-modified': st.mtime.toUTCString(),
      ...(range ? {'content-range': `bytes ${start}-${end}/${st.size}`} : {}),
    })
    if (req.method === 'HEAD' || length === 0) {
      res.end()
      return range ? 206 : 200
    }
    // Streamed from the open file: nothing is read into memory whole.
    try {
      await pipeline(fh.createReadStream({start, end, autoClose: false}), res)
    } catch (e) {
      // A client that goes away mid-file (apt and curl retry, resuming with a Range) is no error here.
      if ((e as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw e
    }
    return range ? 206 : 200
  } finally {
    await fh.close()
  }
}
