/**
 * The entry points `launch` / `destroy` call ("prepare secrets" before creating instances, removal
 * after), whichever cloud the profile is on, and the real clients they use by default.
 */
import {IAMClient} from '@aws-sdk/client-iam'
import {SecretsManagerClient} from '@aws-sdk/client-secrets-manager'
import {SSMClient} from '@aws-sdk/client-ssm'
import {SecretManagerServiceClient} from '@google-cloud/secret-manager'
import {type SecretBundle, secretBackendOf} from '../../plan/secrets/index.js'
import type {Cluster} from '../../profile/index.js'
import {type AwsSecretClients, destroyAwsSecrets, prepareAwsSecrets} from './aws.js'
import type {SecretCall} from './calls.js'
import {destroyGcpSecrets, type GcpSecretClients, prepareGcpSecrets} from './gcp.js'

/** The SDK clients with the default credential chain, in the profile's region. */
export function defaultAwsSecretClients(region: string): AwsSecretClients {
  return {secretsManager: new SecretsManagerClient({region}), ssm: new SSMClient({region}), iam: new IAMClient({region})}
}

/** Secret Manager with application-default credentials; its GoogleAuth also authorises the IAM REST calls. */
export function defaultGcpSecretClients(): GcpSecretClients {
  const secretManager = new SecretManagerServiceClient()
  return {secretManager, http: secretManager.auth}
}

/** Per node: what the instance must be launched with so it can read its bundle. */
export interface NodeIdentity {
  /** EC2: IamInstanceProfile.Name */
  instanceProfileName?: string
  /** GCE: serviceAccounts[0].email (with the cloud-platform scope) */
  serviceAccountEmail?: string
}

export interface CloudSecretClients {
  aws?: AwsSecretClients
  gcp?: GcpSecretClients
}

/**
 * Stores the bundles of the nodes about to be launched and returns each one's identity; nothing to
 * do (an empty map) when the cluster has no secret backend.
 */
export async function prepareCloudSecrets(
  cluster: Cluster,
  bundles: readonly SecretBundle[],
  clients: CloudSecretClients,
  opts: {dryRun?: boolean; onCall?: (c: SecretCall) => void} = {},
): Promise<{perNode: Record<string, NodeIdentity>; calls: SecretCall[]}> {
  const backend = secretBackendOf(cluster)
  if (!backend || bundles.length === 0) return {perNode: {}, calls: []}
  if (backend === 'gcp-secret-manager') {
    const gcp = cluster.platform.gcp
    if (!clients.gcp || !gcp) throw new Error('internal: GCP secret clients or spec.platform.gcp missing')
    const r = await prepareGcpSecrets(clients.gcp, gcp.project, cluster.name, bundles, {...opts, labels: gcp.labels})
    return {
      perNode: Object.fromEntries(Object.entries(r.perNode).map(([n, v]) => [n, {serviceAccountEmail: v.serviceAccountEmail}])),
      calls: r.calls,
    }
  }
  if (!clients.aws) throw new Error('internal: AWS secret clients missing')
  const r = await prepareAwsSecrets(clients.aws, cluster.name, bundles, {...opts, tags: cluster.platform.aws?.tags ?? {}})
  return {
    perNode: Object.fromEntries(Object.entries(r.perNode).map(([n, v]) => [n, {instanceProfileName: v.instanceProfileName}])),
    calls: r.calls,
  }
}

/** Removes the cluster's secrets and every node's identity (missing ones are fine). */
export async function destroyCloudSecrets(
  cluster: Cluster,
  clients: CloudSecretClients,
  opts: {dryRun?: boolean; onCall?: (c: SecretCall) => void} = {},
): Promise<{calls: SecretCall[]}> {
  const backend = secretBackendOf(cluster)
  if (!backend) return {calls: []}
  const nodes = cluster.nodes.filter((n) => n.role !== 'worker').map((n) => n.name)
  if (backend === 'gcp-secret-manager') {
    if (!clients.gcp || !cluster.platform.gcp) throw new Error('internal: GCP secret clients or spec.platform.gcp missing')
    return destroyGcpSecrets(clients.gcp, cluster.platform.gcp.project, cluster.name, nodes, opts)
  }
  if (!clients.aws) throw new Error('internal: AWS secret clients missing')
  return destroyAwsSecrets(clients.aws, cluster.name, nodes, {...opts, backend})
}
