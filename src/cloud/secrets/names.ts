/** Names of the cloud identities that read one node's secret bundle (stable, within each cloud's limits). */
import {createHash} from 'node:crypto'

function shortHash(cluster: string, node: string): string {
  return createHash('sha256').update(`${cluster}/${node}`).digest('hex').slice(0, 8)
}

/**
 * IAM role and instance-profile name (at most 64 of `[A-Za-z0-9+=,.@_-]`): `nodegen-<cluster>-<node>`,
 * or shortened with a hash of both when that is too long.
 */
export function awsIdentityName(cluster: string, node: string): string {
  const full = `nodegen-${cluster}-${node}`
  if (full.length <= 64) return full
  return `${full.slice(0, 55)}-${shortHash(cluster, node)}`
}

/** Service-account id (6 to 30 of `[a-z0-9-]`, starting with a letter): `ng-<node>-<hash of cluster/node>`. */
export function gcpServiceAccountId(cluster: string, node: string): string {
  const head = `ng-${node}`.slice(0, 21).replace(/-+$/, '')
  return `${head}-${shortHash(cluster, node)}`
}

export function gcpServiceAccountEmail(project: string, cluster: string, node: string): string {
  return `${gcpServiceAccountId(cluster, node)}@${project}.iam.gserviceaccount.com`
}
