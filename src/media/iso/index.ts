/**
 * An ISO 9660 writer with Rock Ridge (RRIP 1991A over SUSP) and Joliet, for seed media: NoCloud
 * (`cidata`) and OpenStack config drives (`config-2`). Pure: the layout is computed from the entries
 * and an epoch (SOURCE_DATE_EPOCH or a fixed one) and the image is yielded sector by sector, so the
 * same input gives the same bytes and a caller can stream it to disk.
 *
 * Layout: 16 system sectors; primary, Joliet and terminator volume descriptors; a Rock Ridge
 * continuation sector (the ER entry); path tables (L and M for each hierarchy); the primary
 * directories; the Joliet directories; file data. Both hierarchies point at the same file extents.
 */

const SECTOR = 2048

export interface IsoEntry {
  /** Path inside the image, `/`-separated, without a leading slash: `openstack/latest/user_data`. */
  path: string
  data: Uint8Array
  /** POSIX mode bits for Rock Ridge. @default 0o644 */
  mode?: number
}

export interface IsoOptions {
  /** Volume identifier as blkid reports it, e.g. `cidata` or `config-2` (at most 16 characters for Joliet). */
  volumeId: string
  /** Seconds since the Unix epoch for every timestamp in the image. */
  epoch: number
  publisher?: string
}

interface Dir {
  name: string
  parent?: Dir
  dirs: Dir[]
  files: FileNode[]
  /** 1-based number in the path table of each hierarchy. */
  number: number
  isoName: string
  lba: number
  size: number
  jLba: number
  jSize: number
  mode: number
}

interface FileNode {
  name: string
  data: Uint8Array
  mode: number
  isoName: string
  lba: number
}

export interface IsoLayout {
  /** Everything before the file data: descriptors, path tables, directories. */
  head: Uint8Array
  files: Array<{lba: number; data: Uint8Array}>
  totalSectors: number
}

// --------------------------------------------------------------------------------------------
// Encoding helpers
// --------------------------------------------------------------------------------------------

function both16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff
  b[off + 1] = (v >> 8) & 0xff
  b[off + 2] = (v >> 8) & 0xff
  b[off + 3] = v & 0xff
}

function both32(b: Uint8Array, off: number, v: number): void {
  le32(b, off, v)
  be32(b, off + 4, v)
}

function le32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff
  b[off + 1] = (v >>> 8) & 0xff
  b[off + 2] = (v >>> 16) & 0xff
  b[off + 3] = (v >>> 24) & 0xff
}

function be32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff
  b[off + 1] = (v >>> 16) & 0xff
  b[off + 2] = (v >>> 8) & 0xff
  b[off + 3] = v & 0xff
}

function le16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff
  b[off + 1] = (v >> 8) & 0xff
}

function be16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >> 8) & 0xff
  b[off + 1] = v & 0xff
}

function ascii(b: Uint8Array, off: number, len: number, s: string): void {
  for (let i = 0; i < len; i++) b[off + i] = i < s.length ? s.charCodeAt(i) & 0x7f : 0x20
}

function ucs2(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2)
  for (let i = 0; i < s.length; i++) be16(out, i * 2, s.charCodeAt(i))
  return out
}

/** Joliet text fields (volume id etc.): UCS-2 big-endian, padded with UCS-2 spaces. */
function ucs2Field(b: Uint8Array, off: number, len: number, s: string): void {
  for (let i = 0; i < len / 2; i++) be16(b, off + i * 2, i < s.length ? s.charCodeAt(i) : 0x20)
}

/** 7-byte directory record date. */
function recordDate(epoch: number): Uint8Array {
  const d = new Date(epoch * 1000)
  return Uint8Array.from([
    d.getUTCFullYear() - 1900,
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    0,
  ])
}

/** 17-byte volume descriptor date: "YYYYMMDDHHMMSScc" + GMT offset. */
function volumeDate(b: Uint8Array, off: number, epoch: number | undefined): void {
  if (epoch === undefined) {
    ascii(b, off, 16, '0000000000000000')
    b[off + 16] = 0
    return
  }
  const d = new Date(epoch * 1000)
  const p = (n: number, w = 2) => String(n).padStart(w, '0')
  ascii(
    b,
    off,
    16,
    `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}00`,
  )
  b[off + 16] = 0
}

const sectors = (bytes: number) => Math.ceil(bytes / SECTOR)

// --------------------------------------------------------------------------------------------
// Names
// --------------------------------------------------------------------------------------------

/** ISO 9660 level-1 name: d-characters, 8.3 for files, 8 for directories; unique in its directory. */
function isoNames(names: string[], isDir: boolean): string[] {
  const used = new Set<string>()
  return names.map((n) => {
    const clean = (s: string) => s.toUpperCase().replace(/[^A-Z0-9_]/g, '_')
    const dot = isDir ? -1 : n.lastIndexOf('.')
    let base = clean(dot > 0 ? n.slice(0, dot) : n).slice(0, 8) || '_'
    const ext = dot > 0 ? clean(n.slice(dot + 1)).slice(0, 3) : ''
    const make = (b: string) => (isDir ? b : `${b}.${ext};1`)
    let candidate = make(base)
    for (let i = 1; used.has(candidate); i++) {
      const suffix = String(i)
      base = `${base.slice(0, 8 - suffix.length - 1)}~${suffix}`.slice(0, 8)
      candidate = make(base)
    }
    used.add(candidate)
    return candidate
  })
}

// --------------------------------------------------------------------------------------------
// SUSP / Rock Ridge entries
// --------------------------------------------------------------------------------------------

function px(mode: number, nlinks: number): Uint8Array {
  const b = new Uint8Array(36)
  ascii(b, 0, 2, 'PX')
  b[2] = 36
  b[3] = 1
  both32(b, 4, mode)
  both32(b, 12, nlinks)
  both32(b, 20, 0) // uid root
  both32(b, 28, 0) // gid root
  return b
}

function tf(epoch: number): Uint8Array {
  const b = new Uint8Array(5 + 3 * 7)
  ascii(b, 0, 2, 'TF')
  b[2] = b.length
  b[3] = 1
  b[4] = 0x0e // modify, access, attributes
  const d = recordDate(epoch)
  for (let i = 0; i < 3; i++) b.set(d, 5 + i * 7)
  return b
}

function nm(name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name)
  const b = new Uint8Array(5 + bytes.length)
  ascii(b, 0, 2, 'NM')
  b[2] = b.length
  b[3] = 1
  b[4] = 0
  b.set(bytes, 5)
  return b
}

function sp(): Uint8Array {
  return Uint8Array.from([0x53, 0x50, 7, 1, 0xbe, 0xef, 0])
}

function ce(lba: number, length: number): Uint8Array {
  const b = new Uint8Array(28)
  ascii(b, 0, 2, 'CE')
  b[2] = 28
  b[3] = 1
  both32(b, 4, lba)
  both32(b, 12, 0)
  both32(b, 20, length)
  return b
}

const ER_ID = 'RRIP_1991A'
const ER_DES = 'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS'
const ER_SRC =
  'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.'

function er(): Uint8Array {
  const b = new Uint8Array(8 + ER_ID.length + ER_DES.length + ER_SRC.length)
  ascii(b, 0, 2, 'ER')
  b[2] = b.length
  b[3] = 1
  b[4] = ER_ID.length
  b[5] = ER_DES.length
  b[6] = ER_SRC.length
  b[7] = 1
  ascii(b, 8, ER_ID.length, ER_ID)
  ascii(b, 8 + ER_ID.length, ER_DES.length, ER_DES)
  ascii(b, 8 + ER_ID.length + ER_DES.length, ER_SRC.length, ER_SRC)
  return b
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

// --------------------------------------------------------------------------------------------
// Directory records
// --------------------------------------------------------------------------------------------

function record(id: Uint8Array, lba: number, size: number, isDir: boolean, epoch: number, su: Uint8Array = new Uint8Array(0)): Uint8Array {
  const pad = id.length % 2 === 0 ? 1 : 0
  let len = 33 + id.length + pad + su.length
  if (len % 2 === 1) len++
  if (len > 255) throw new Error(`internal: directory record of ${len} bytes`)
  const b = new Uint8Array(len)
  b[0] = len
  b[1] = 0
  both32(b, 2, lba)
  both32(b, 10, size)
  b.set(recordDate(epoch), 18)
  b[25] = isDir ? 2 : 0
  b[26] = 0
  b[27] = 0
  both16(b, 28, 1)
  b[32] = id.length
  b.set(id, 33)
  b.set(su, 33 + id.length + pad)
  return b
}

/** Lays records into sectors: a record never crosses a sector boundary. */
function packRecords(records: Uint8Array[]): Uint8Array {
  let size = 0
  for (const r of records) {
    if ((size % SECTOR) + r.length > SECTOR) size = sectors(size) * SECTOR
    size += r.length
  }
  const out = new Uint8Array(sectors(size) * SECTOR)
  let off = 0
  for (const r of records) {
    if ((off % SECTOR) + r.length > SECTOR) off = sectors(off) * SECTOR
    out.set(r, off)
    off += r.length
  }
  return out
}

// --------------------------------------------------------------------------------------------
// Layout
// --------------------------------------------------------------------------------------------

function buildTree(entries: IsoEntry[]): Dir {
  const root: Dir = {name: '', dirs: [], files: [], number: 1, isoName: '', lba: 0, size: 0, jLba: 0, jSize: 0, mode: 0o755}
  const seen = new Set<string>()
  for (const e of entries) {
    const parts = e.path.split('/').filter(Boolean)
    if (parts.length === 0) throw new Error(`internal: empty ISO path ${JSON.stringify(e.path)}`)
    if (seen.has(parts.join('/'))) throw new Error(`internal: ${e.path} appears twice in the ISO`)
    seen.add(parts.join('/'))
    let dir = root
    for (const p of parts.slice(0, -1)) {
      let child = dir.dirs.find((d) => d.name === p)
      if (!child) {
        child = {name: p, parent: dir, dirs: [], files: [], number: 0, isoName: '', lba: 0, size: 0, jLba: 0, jSize: 0, mode: 0o755}
        dir.dirs.push(child)
      }
      dir = child
    }
    dir.files.push({name: parts[parts.length - 1] as string, data: e.data, mode: e.mode ?? 0o644, isoName: '', lba: 0})
  }
  const assign = (d: Dir) => {
    d.dirs.sort((a, b) => (a.name < b.name ? -1 : 1))
    d.files.sort((a, b) => (a.name < b.name ? -1 : 1))
    isoNames(
      d.dirs.map((x) => x.name),
      true,
    ).forEach((n, i) => {
      ;(d.dirs[i] as Dir).isoName = n
    })
    isoNames(
      d.files.map((x) => x.name),
      false,
    ).forEach((n, i) => {
      ;(d.files[i] as FileNode).isoName = n
    })
    for (const c of d.dirs) assign(c)
  }
  assign(root)
  return root
}

/** Directories breadth-first, as path tables list them (parents before children, siblings sorted). */
function breadthFirst(root: Dir, key: (d: Dir) => string): Dir[] {
  const out: Dir[] = [root]
  for (let i = 0; i < out.length; i++) {
    const d = out[i] as Dir
    out.push(...[...d.dirs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)))
  }
  return out
}

const ONE = Uint8Array.from([0])
const TWO = Uint8Array.from([1])

function primaryRecords(d: Dir, epoch: number, isRoot: boolean, ceLba: number, erLen: number): Uint8Array[] {
  const parent = d.parent ?? d
  const dotSu = isRoot
    ? concat([sp(), px(0o40000 | d.mode, 2 + d.dirs.length), tf(epoch), ce(ceLba, erLen)])
    : concat([px(0o40000 | d.mode, 2 + d.dirs.length), tf(epoch)])
  const recs = [
    record(ONE, d.lba, d.size, true, epoch, dotSu),
    record(TWO, parent.lba, parent.size, true, epoch, concat([px(0o40000 | parent.mode, 2 + parent.dirs.length), tf(epoch)])),
  ]
  const children: Array<{iso: string; rec: Uint8Array}> = [
    ...d.dirs.map((c) => ({
      iso: c.isoName,
      rec: record(
        new TextEncoder().encode(c.isoName),
        c.lba,
        c.size,
        true,
        epoch,
        concat([px(0o40000 | c.mode, 2 + c.dirs.length), tf(epoch), nm(c.name)]),
      ),
    })),
    ...d.files.map((f) => ({
      iso: f.isoName,
      rec: record(
        new TextEncoder().encode(f.isoName),
        f.lba,
        f.data.length,
        false,
        epoch,
        concat([px(0o100000 | f.mode, 1), tf(epoch), nm(f.name)]),
      ),
    })),
  ]
  children.sort((a, b) => (a.iso < b.iso ? -1 : a.iso > b.iso ? 1 : 0))
  return [...recs, ...children.map((c) => c.rec)]
}

function jolietRecords(d: Dir, epoch: number): Uint8Array[] {
  const parent = d.parent ?? d
  const recs = [record(ONE, d.jLba, d.jSize, true, epoch), record(TWO, parent.jLba, parent.jSize, true, epoch)]
  const children: Array<{key: string; rec: Uint8Array}> = [
    ...d.dirs.map((c) => ({key: c.name, rec: record(ucs2(c.name.slice(0, 64)), c.jLba, c.jSize, true, epoch)})),
    ...d.files.map((f) => ({key: `${f.name};1`, rec: record(ucs2(`${f.name.slice(0, 62)};1`), f.lba, f.data.length, false, epoch)})),
  ]
  children.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return [...recs, ...children.map((c) => c.rec)]
}

function pathTable(dirs: Dir[], name: (d: Dir) => Uint8Array, lba: (d: Dir) => number, bigEndian: boolean): Uint8Array {
  const parts: Uint8Array[] = []
  for (const d of dirs) {
    const id = d.parent ? name(d) : ONE
    const b = new Uint8Array(8 + id.length + (id.length % 2))
    b[0] = id.length
    b[1] = 0
    if (bigEndian) {
      be32(b, 2, lba(d))
      be16(b, 6, d.parent ? d.parent.number : 1)
    } else {
      le32(b, 2, lba(d))
      le16(b, 6, d.parent ? d.parent.number : 1)
    }
    b.set(id, 8)
    parts.push(b)
  }
  return concat(parts)
}

function volumeDescriptor(
  type: 1 | 2,
  o: IsoOptions,
  total: number,
  pathTableSize: number,
  lPath: number,
  mPath: number,
  rootRecord: Uint8Array,
): Uint8Array {
  const b = new Uint8Array(SECTOR)
  b[0] = type
  ascii(b, 1, 5, 'CD001')
  b[6] = 1
  const joliet = type === 2
  if (joliet) {
    ucs2Field(b, 8, 32, 'LINUX')
    ucs2Field(b, 40, 32, o.volumeId.slice(0, 16))
    ascii(b, 88, 3, '%/E') // UCS-2 level 3
  } else {
    ascii(b, 8, 32, 'LINUX')
    ascii(b, 40, 32, o.volumeId)
  }
  both32(b, 80, total)
  both16(b, 120, 1)
  both16(b, 124, 1)
  both16(b, 128, SECTOR)
  both32(b, 132, pathTableSize)
  le32(b, 140, lPath)
  le32(b, 144, 0)
  be32(b, 148, mPath)
  be32(b, 152, 0)
  b.set(rootRecord, 156)
  const text = (off: number, len: number, s: string) => (joliet ? ucs2Field(b, off, len, s) : ascii(b, off, len, s))
  text(190, 128, '')
  text(318, 128, o.publisher ?? 'NODEGEN')
  text(446, 128, '')
  text(574, 128, 'NODEGEN')
  text(702, 37, '')
  text(739, 37, '')
  text(776, 37, '')
  volumeDate(b, 813, o.epoch)
  volumeDate(b, 830, o.epoch)
  volumeDate(b, 847, undefined)
  volumeDate(b, 864, undefined)
  b[881] = 1
  return b
}

/** Computes where everything goes and renders the metadata. */
export function planIso(entries: IsoEntry[], o: IsoOptions): IsoLayout {
  const root = buildTree(entries)
  const primary = breadthFirst(root, (d) => d.isoName)
  primary.forEach((d, i) => {
    d.number = i + 1
  })
  const erEntry = er()
  // Sizes first (records depend only on names), then addresses.
  const measure = (recs: Uint8Array[]) => packRecords(recs).length
  for (const d of primary) {
    d.size = measure(primaryRecords(d, o.epoch, d === root, 0, erEntry.length))
    d.jSize = measure(jolietRecords(d, o.epoch))
  }
  const pName = (d: Dir) => new TextEncoder().encode(d.isoName)
  const jName = (d: Dir) => ucs2(d.name.slice(0, 64))
  // The Joliet path table lists the same directories, ordered by their Joliet names.
  const joliet = breadthFirst(root, (d) => d.name)
  const jNumber = new Map<Dir, number>(joliet.map((d, i) => [d, i + 1]))
  const ptSize = pathTable(primary, pName, () => 0, false).length
  const jptSize = pathTable(joliet, jName, () => 0, false).length

  let lba = 16 + 3 // system area, PVD, SVD, terminator
  const ceLba = lba++
  const lPath = lba
  lba += sectors(ptSize)
  const mPath = lba
  lba += sectors(ptSize)
  const jlPath = lba
  lba += sectors(jptSize)
  const jmPath = lba
  lba += sectors(jptSize)
  for (const d of primary) {
    d.lba = lba
    lba += sectors(d.size)
  }
  for (const d of joliet) {
    d.jLba = lba
    lba += sectors(d.jSize)
  }
  const files: Array<{lba: number; data: Uint8Array}> = []
  const visit = (d: Dir) => {
    for (const f of d.files) {
      f.lba = f.data.length === 0 ? 0 : lba
      if (f.data.length > 0) files.push({lba, data: f.data})
      lba += sectors(f.data.length)
    }
    for (const c of d.dirs) visit(c)
  }
  visit(root)
  const total = lba

  const head = new Uint8Array((files[0]?.lba ?? total) * SECTOR)
  const rootRecord = record(ONE, root.lba, root.size, true, o.epoch)
  const jRootRecord = record(ONE, root.jLba, root.jSize, true, o.epoch)
  head.set(volumeDescriptor(1, o, total, ptSize, lPath, mPath, rootRecord), 16 * SECTOR)
  head.set(volumeDescriptor(2, o, total, jptSize, jlPath, jmPath, jRootRecord), 17 * SECTOR)
  const term = new Uint8Array(SECTOR)
  term[0] = 255
  ascii(term, 1, 5, 'CD001')
  term[6] = 1
  head.set(term, 18 * SECTOR)
  head.set(erEntry, ceLba * SECTOR)
  // Joliet path tables use the Joliet numbering for parents.
  const jParentTable = (big: boolean) => {
    const parts: Uint8Array[] = []
    for (const d of joliet) {
      const id = d.parent ? jName(d) : ONE
      const b = new Uint8Array(8 + id.length + (id.length % 2))
      b[0] = id.length
      const parentNo = d.parent ? (jNumber.get(d.parent) as number) : 1
      if (big) {
        be32(b, 2, d.jLba)
        be16(b, 6, parentNo)
      } else {
        le32(b, 2, d.jLba)
        le16(b, 6, parentNo)
      }
      b.set(id, 8)
      parts.push(b)
    }
    return concat(parts)
  }
  head.set(
    pathTable(primary, pName, (d) => d.lba, false),
    lPath * SECTOR,
  )
  head.set(
    pathTable(primary, pName, (d) => d.lba, true),
    mPath * SECTOR,
  )
  head.set(jParentTable(false), jlPath * SECTOR)
  head.set(jParentTable(true), jmPath * SECTOR)
  for (const d of primary) head.set(packRecords(primaryRecords(d, o.epoch, d === root, ceLba, erEntry.length)), d.lba * SECTOR)
  for (const d of joliet) head.set(packRecords(jolietRecords(d, o.epoch)), d.jLba * SECTOR)
  return {head, files, totalSectors: total}
}

/** The image, in order: the metadata, then each file padded to a sector. */
export function* isoChunks(layout: IsoLayout): Generator<Uint8Array> {
  // The 16 sectors of the system area are zeros: yielded on their own so a writer can skip them.
  yield layout.head.subarray(0, 16 * SECTOR)
  yield layout.head.subarray(16 * SECTOR)
  let next = layout.head.length / SECTOR
  for (const f of layout.files) {
    if (f.lba > next) yield new Uint8Array((f.lba - next) * SECTOR)
    yield f.data
    const pad = sectors(f.data.length) * SECTOR - f.data.length
    if (pad > 0) yield new Uint8Array(pad)
    next = f.lba + sectors(f.data.length)
  }
  if (layout.totalSectors > next) yield new Uint8Array((layout.totalSectors - next) * SECTOR)
}

/** The whole image in memory (seeds are small). */
export function buildIso(entries: IsoEntry[], o: IsoOptions): Buffer {
  return Buffer.concat([...isoChunks(planIso(entries, o))])
}
