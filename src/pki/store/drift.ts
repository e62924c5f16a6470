/**
 * Drift warnings: what the profile asks for that an existing state cannot give, because a state is
 * never rewritten (another key algorithm, an etcd member's new IP, a member the profile dropped).
 * Pure; loadOrCreateState reports them as warnings rather than failing.
 */
import {X509Certificate} from 'node:crypto'
import type {Cluster} from '../../profile/index.js'
import {externalEtcdMembers} from '../issue.js'
import type {ClusterSecrets} from '../types.js'

export function driftWarnings(cluster: Cluster, secrets: ClusterSecrets): string[] {
  const w: string[] = []
  if (cluster.pki.keyAlgorithm !== secrets.keyAlgorithm)
    w.push(
      `the profile asks for ${cluster.pki.keyAlgorithm} keys; this state's are ${secrets.keyAlgorithm} (fixed when it was created) and stay so`,
    )
  const members = externalEtcdMembers(cluster)
  for (const m of members) {
    const pair = secrets.etcdMembers[m.name]
    if (!pair) continue
    for (const kind of ['server', 'peer'] as const) {
      const c = new X509Certificate(pair[kind].cert)
      if (!c.checkIP(m.ip))
        w.push(
          `etcd member ${m.name}: pki/etcd/${m.name}/${kind}.crt was issued without its current IP ${m.ip}; certificates are never replaced`,
        )
    }
  }
  for (const name of Object.keys(secrets.etcdMembers)) {
    if (!members.some((m) => m.name === name))
      w.push(`the state has certificates for etcd member ${name}, which the profile no longer lists`)
  }
  return w
}
