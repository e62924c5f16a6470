// archiver 8 is an ES module exporting archive classes and ships no types (@types/archiver
// describes the v6 function API): the part nodegen uses.
declare module 'archiver' {
  import type {Transform} from 'node:stream'

  interface EntryData {
    name: string
    mode?: number
    date?: Date
  }

  class Archiver extends Transform {
    append(source: Buffer | string, data: EntryData): this
    finalize(): Promise<void>
  }

  export class TarArchive extends Archiver {
    constructor(options?: {gzip?: boolean; gzipOptions?: {level?: number}})
  }

  export class ZipArchive extends Archiver {
    constructor(options?: {zlib?: {level?: number}})
  }
}
