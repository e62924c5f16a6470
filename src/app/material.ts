/** Adapts the PKI's secrets to what the planners need (plan/ does not depend on pki/'s types). */

import {type ClusterSecrets, secretFilesForNode} from '../pki/index.js'
import type {ClusterMaterial} from '../plan/build.js'
import type {Cluster} from '../profile/index.js'

export function materialFromSecrets(cluster: Cluster, secrets: ClusterSecrets): ClusterMaterial {
  return {
    caCert: secrets.cas.ca.cert,
    caCertHash: secrets.caCertHash,
    token: secrets.bootstrapToken.token,
    tokenTtlSeconds: secrets.bootstrapToken.ttlSeconds,
    pkiFiles: (node) => secretFilesForNode(cluster, node, secrets),
  }
}
