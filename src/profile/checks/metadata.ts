/**
 * metadata: the cluster's name, which names the state directory and kubeadm's clusterName, so it
 * must be an RFC 1123 label.
 */
import type {Report} from '../diagnostics.js'
import {isHostnameLabel} from '../net.js'
import type {Profile} from '../schema.js'

export function checkMetadata(report: Report, metadata: Profile['metadata']): void {
  if (!isHostnameLabel(metadata.name)) report.error(['metadata', 'name'], 'NG0300', {value: metadata.name})
}
