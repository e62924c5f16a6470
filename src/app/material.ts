/** Adapts the PKI's secrets to what the planners need (plan/ does not depend on pki/'s types). */

import {type Calendar, type ClusterSecrets, deriveWindowToken, secretFilesForNode, windowOf} from '../pki/index.js'
import type {ClusterMaterial} from '../plan/build.js'
import type {Cluster} from '../profile/index.js'

/** Windows ahead of the current one whose tokens control planes keep registered. */
export const WINDOWS_AHEAD = 2

/**
 * With a calendar, nodes join with the token of the window `at` falls in (and the next one's, for a
 * boot that straddles the boundary); without one, with the state's newest token.
 */
export function materialFromSecrets(cluster: Cluster, secrets: ClusterSecrets, calendar?: Calendar, at?: Date): ClusterMaterial {
  const base = {
    caCert: secrets.cas.ca.cert,
    caCertHash: secrets.caCertHash,
    pkiFiles: (node: Parameters<ClusterMaterial['pkiFiles']>[0]) => secretFilesForNode(cluster, node, secrets),
  }
  if (!calendar) return {...base, token: secrets.bootstrapToken.token, tokenTtlSeconds: secrets.bootstrapToken.ttlSeconds}
  const ws = cluster.bootstrapToken.windowSeconds
  const w = windowOf(Math.floor((at ?? new Date()).getTime() / 1000), ws)
  const current = deriveWindowToken(calendar.secret, w, ws)
  const next = deriveWindowToken(calendar.secret, w + 1, ws)
  return {
    ...base,
    token: current.token,
    tokenTtlSeconds: ws,
    nextToken: {token: next.token, from: next.start},
    calendar: {secret: calendar.secret, windowSeconds: ws, windowsAhead: WINDOWS_AHEAD},
  }
}
