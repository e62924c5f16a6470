/**
 * User-data on GCE: the metadata items a node boots with (`user-data`, read by cloud-init and by
 * Ignition), and how recorded calls show them (redacted to size, encoding and digest).
 */
import {type Redact, userDataRedaction} from '../recorder.js'
import type {LaunchNode} from '../types.js'

/** The metadata items one node boots with: `user-data` for cloud-init and for Ignition alike. */
export function userDataItems(n: LaunchNode): Array<{key: string; value: string}> {
  const items = [{key: 'user-data', value: n.userData.toString('utf8')}]
  // cloud-init base64-decodes with this key (and then gunzips what it finds); Ignition reads
  // `user-data` verbatim and knows no such key.
  if (n.encoding === 'gzip+base64') items.push({key: 'user-data-encoding', value: 'base64'})
  return items
}

/** What the report shows of a Compute Engine request: a copy, with the `user-data` metadata item redacted. */
export function metadataRedactor(nodes: LaunchNode[]): Redact {
  const userData = userDataRedaction(nodes, 'utf8', 'text')
  return (input) => {
    const copy = structuredClone(input) as {instanceResource?: {metadata?: {items?: Array<{key: string; value: string}>}}}
    for (const it of copy?.instanceResource?.metadata?.items ?? []) if (it.key === 'user-data') it.value = userData(it.value)
    return copy
  }
}
