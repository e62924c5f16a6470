/**
 * Debian repository metadata for `nodegen bundle`, pure: the stanzas of a Packages or Release file,
 * the hashes a Release lists, Debian's version order, and which package files a bundle takes from
 * a pkgs.k8s.io-style repository. No I/O: the texts come in, the choices go out.
 */

/** One paragraph of a deb822 file (Packages, Release): field name to value, continuation lines joined with `\n`. */
export type Stanza = Record<string, string>

/** The paragraphs of a deb822 text (Packages, Release, a dpkg status file). */
export function parseStanzas(text: string): Stanza[] {
  const out: Stanza[] = []
  let cur: Stanza = {}
  let last: string | undefined
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (Object.keys(cur).length > 0) out.push(cur)
      cur = {}
      last = undefined
      continue
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      cur[last] = `${cur[last]}\n${line.trim()}`
      continue
    }
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    last = line.slice(0, colon)
    cur[last] = line.slice(colon + 1).trim()
  }
  if (Object.keys(cur).length > 0) out.push(cur)
  return out
}

/**
 * The text an InRelease's clear signature covers, once the signature has been checked (gpgv): the
 * lines between the armour header and the signature, dash-escaping undone (RFC 4880, 7.1).
 */
export function clearSignedText(inRelease: string): string | undefined {
  const lines = inRelease.replace(/\r\n/g, '\n').split('\n')
  const begin = lines.indexOf('-----BEGIN PGP SIGNED MESSAGE-----')
  if (begin < 0) return undefined
  let i = begin + 1
  while (i < lines.length && lines[i] !== '') i++
  const end = lines.indexOf('-----BEGIN PGP SIGNATURE-----', i)
  if (end < 0) return undefined
  return `${lines
    .slice(i + 1, end)
    .map((l) => (l.startsWith('- ') ? l.slice(2) : l))
    .join('\n')}\n`
}

/** A Release's SHA256 section: path to {sha256, size}. */
export function releaseSha256(release: Stanza): Map<string, {sha256: string; size: number}> {
  const out = new Map<string, {sha256: string; size: number}>()
  for (const line of (release.SHA256 ?? '').split('\n')) {
    const [sha256, size, file] = line.trim().split(/\s+/)
    if (sha256 && size && file && /^[0-9a-f]{64}$/.test(sha256)) out.set(file, {sha256, size: Number(size)})
  }
  return out
}

// Debian's version order (deb-version(7), dpkg's verrevcmp): runs of non-digits compared character
// by character, `~` before everything (even the end), letters before other characters; then runs of
// digits compared as numbers.
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9'

function order(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0
  if (c === '~') return -1
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0)
  return c.charCodeAt(0) + 256
}

function comparePart(a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    let firstDiff = 0
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(a[i])
      const bc = order(b[j])
      if (ac !== bc) return ac - bc
      i++
      j++
    }
    while (a[i] === '0') i++
    while (b[j] === '0') j++
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j)
      i++
      j++
    }
    if (isDigit(a[i])) return 1
    if (isDigit(b[j])) return -1
    if (firstDiff !== 0) return firstDiff
  }
  return 0
}

/** Debian's version comparison: negative, zero or positive, as `dpkg --compare-versions` orders them. */
export function compareDebVersions(a: string, b: string): number {
  const split = (v: string) => {
    const colon = v.indexOf(':')
    const epoch = colon > 0 ? Number(v.slice(0, colon)) : 0
    const rest = colon > 0 ? v.slice(colon + 1) : v
    const dash = rest.lastIndexOf('-')
    return {epoch, upstream: dash >= 0 ? rest.slice(0, dash) : rest, revision: dash >= 0 ? rest.slice(dash + 1) : '0'}
  }
  const x = split(a)
  const y = split(b)
  if (x.epoch !== y.epoch) return x.epoch - y.epoch
  return comparePart(x.upstream, y.upstream) || comparePart(x.revision, y.revision)
}

/** A package file the bundle takes from a repository, with what the repository's index says of it. */
export interface DebChoice {
  name: string
  version: string
  /** The path the index gives, relative to the repository (`amd64/kubelet_1.34.2-1.1_amd64.deb`). */
  filename: string
  sha256: string
  size: number
}

/** The architectures a linux/amd64 node installs. */
const ARCHES = new Set(['amd64', 'all'])

/** A Filename the bundle can write under its repository directory: relative, no `..`, plain characters. */
export function safeFilename(f: string): boolean {
  return /^[A-Za-z0-9._+~/-]+\.deb$/.test(f) && !f.startsWith('/') && !f.split('/').includes('..')
}

/**
 * For each wanted package, the highest version the index holds for amd64 whose version satisfies
 * `versionPrefix` (pkgs.k8s.io's `1.34.2-` for the pinned ones; none: the highest), as apt picks it.
 * Missing ones are returned by name.
 */
export function choosePackages(
  stanzas: Stanza[],
  wanted: ReadonlyArray<{name: string; versionPrefix?: string}>,
): {chosen: DebChoice[]; missing: Array<{name: string; versionPrefix?: string}>} {
  const chosen: DebChoice[] = []
  const missing: Array<{name: string; versionPrefix?: string}> = []
  for (const w of wanted) {
    let best: DebChoice | undefined
    for (const s of stanzas) {
      if (s.Package !== w.name || !ARCHES.has(s.Architecture ?? '')) continue
      const version = s.Version ?? ''
      if (w.versionPrefix !== undefined && !version.startsWith(w.versionPrefix)) continue
      const sha256 = s.SHA256 ?? ''
      const filename = s.Filename ?? ''
      if (!/^[0-9a-f]{64}$/.test(sha256) || !safeFilename(filename)) continue
      if (!best || compareDebVersions(version, best.version) > 0)
        best = {name: w.name, version, filename, sha256, size: Number(s.Size ?? '-1')}
    }
    if (best) chosen.push(best)
    else missing.push(w)
  }
  return {chosen, missing}
}
