/**
 * tar.gz and zip bundles of rendered artifacts, deterministic: entries sorted, every timestamp the
 * given epoch, modes kept. The caller gives the stream to write to.
 */
import type {Writable} from 'node:stream'
import {TarArchive, ZipArchive} from 'archiver'

export interface BundleEntry {
  path: string
  data: Uint8Array | string
  mode: number
}

export type BundleFormat = 'tar.gz' | 'zip'

export function writeBundle(entries: BundleEntry[], format: BundleFormat, epoch: number, out: Writable): Promise<void> {
  const archive = format === 'zip' ? new ZipArchive({zlib: {level: 9}}) : new TarArchive({gzip: true, gzipOptions: {level: 9}})
  const date = new Date(epoch * 1000)
  return new Promise((resolve, reject) => {
    out.on('close', () => resolve())
    out.on('error', reject)
    archive.on('error', reject)
    archive.on('warning', reject)
    archive.pipe(out)
    for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
      archive.append(typeof e.data === 'string' ? Buffer.from(e.data) : Buffer.from(e.data), {name: e.path, mode: e.mode, date})
    }
    void archive.finalize()
  })
}
