/** cloud-init's NoCloud seed: `user-data`, `meta-data`, `network-config` (and `vendor-data`) at the root of a volume labelled `cidata`. */
import type {IsoEntry} from './iso/index.js'

export const NOCLOUD_VOLUME_ID = 'cidata'

export interface SeedFiles {
  userData: Uint8Array
  metaData: string
  networkConfig?: string
  vendorData?: string
}

export function nocloudEntries(s: SeedFiles): IsoEntry[] {
  const entries: IsoEntry[] = [
    {path: 'user-data', data: s.userData, mode: 0o600},
    {path: 'meta-data', data: Buffer.from(s.metaData), mode: 0o644},
  ]
  if (s.networkConfig !== undefined) entries.push({path: 'network-config', data: Buffer.from(s.networkConfig), mode: 0o644})
  if (s.vendorData !== undefined) entries.push({path: 'vendor-data', data: Buffer.from(s.vendorData), mode: 0o644})
  return entries
}
