/**
 * Google Cloud side of the secret backend: stores each node's bundle in Secret Manager (one secret
 * per chunk, labelled with the cluster and node) and gives the node a service account of its own,
 * bound on those secrets only to Secret Accessor and Secret Version Manager (to destroy the version
 * once read). Idempotent: service accounts are reused; a secret that exists is replaced, so no old
 * version with key material stays behind. `destroyGcpSecrets` removes both.
 *
 * Service accounts are managed through the IAM REST API (iam.googleapis.com/v1) with the same
 * authorised client the Secret Manager client uses; there is no IAM client among the dependencies.
 */
import type {SecretManagerServiceClient} from '@google-cloud/secret-manager'
import type {SecretBundle} from '../../plan/secrets/index.js'
import {callLog, type SecretCall} from './calls.js'
import {gcpServiceAccountEmail, gcpServiceAccountId} from './names.js'

/** What google-auth-library's clients offer (`GoogleAuth#request`, `OAuth2Client#request`). */
export interface AuthorizedRequester {
  request<T = unknown>(opts: {url: string; method?: string; data?: unknown}): Promise<{data: T; status: number}>
}

export interface GcpSecretClients {
  secretManager: SecretManagerServiceClient
  /** Authorised HTTP for the IAM REST API; `secretManager.auth` is one. */
  http: AuthorizedRequester
  /** @default 'https://iam.googleapis.com' */
  iamEndpoint?: string
}

export interface GcpSecretOptions {
  /** List the calls without making them. @default false */
  dryRun?: boolean
  /** Labels put on every secret besides nodegen's own (spec.platform.gcp.labels). @default {} */
  labels?: Record<string, string>
  onCall?: (call: SecretCall) => void
}

export interface GcpPrepared {
  /** Per node: the service account `launch` attaches to the instance. */
  perNode: Record<string, {serviceAccountEmail: string; secretIds: string[]}>
  calls: SecretCall[]
}

export const ACCESSOR_ROLE = 'roles/secretmanager.secretAccessor'
export const VERSION_MANAGER_ROLE = 'roles/secretmanager.secretVersionManager'

/** gRPC NOT_FOUND / ALREADY_EXISTS, or the HTTP status, whichever the error carries. */
function status(e: unknown): number | undefined {
  const x = e as {code?: number; status?: number; response?: {status?: number}}
  return x.response?.status ?? x.status ?? (x.code === 5 ? 404 : x.code === 6 ? 409 : x.code)
}

export async function prepareGcpSecrets(
  clients: GcpSecretClients,
  project: string,
  cluster: string,
  bundles: readonly SecretBundle[],
  opts: GcpSecretOptions = {},
): Promise<GcpPrepared> {
  const {calls, note} = callLog(opts.onCall)
  const iam = (clients.iamEndpoint ?? 'https://iam.googleapis.com').replace(/\/+$/, '')
  const sm = clients.secretManager
  const perNode: GcpPrepared['perNode'] = {}
  for (const b of bundles) {
    if (b.backend !== 'gcp-secret-manager') throw new Error(`bundle of ${b.node} is for ${b.backend}`)
    const accountId = gcpServiceAccountId(cluster, b.node)
    const email = gcpServiceAccountEmail(project, cluster, b.node)
    note('iam', 'serviceAccounts.create', email)
    if (!opts.dryRun) {
      try {
        await clients.http.request({
          url: `${iam}/v1/projects/${project}/serviceAccounts`,
          method: 'POST',
          data: {
            accountId,
            serviceAccount: {
              displayName: `nodegen ${cluster}/${b.node}`,
              description: `nodegen: ${cluster}/${b.node} reads its secret bundle once`,
            },
          },
        })
      } catch (e) {
        if (status(e) !== 409) throw e
        note('iam', 'serviceAccounts.get', email)
        await clients.http.request({url: `${iam}/v1/projects/${project}/serviceAccounts/${email}`, method: 'GET'})
      }
    }
    const labels = {...(opts.labels ?? {}), ...b.labels}
    for (const chunk of b.chunks) {
      const name = `projects/${project}/secrets/${chunk.name}`
      note('secretmanager', 'getSecret', name)
      if (!opts.dryRun) {
        let exists = true
        try {
          await sm.getSecret({name})
        } catch (e) {
          if (status(e) !== 404) throw e
          exists = false
        }
        if (exists) {
          // Replace rather than add a version: an older version would keep key material around.
          note('secretmanager', 'deleteSecret', name)
          await sm.deleteSecret({name})
        }
      }
      note('secretmanager', 'createSecret', name)
      note('secretmanager', 'addSecretVersion', name)
      note('secretmanager', 'setIamPolicy', name)
      if (opts.dryRun) continue
      await sm.createSecret({parent: `projects/${project}`, secretId: chunk.name, secret: {replication: {automatic: {}}, labels}})
      await sm.addSecretVersion({parent: name, payload: {data: Buffer.from(chunk.value, 'ascii')}})
      await sm.setIamPolicy({
        resource: name,
        policy: {
          bindings: [
            {role: ACCESSOR_ROLE, members: [`serviceAccount:${email}`]},
            {role: VERSION_MANAGER_ROLE, members: [`serviceAccount:${email}`]},
          ],
        },
      })
    }
    perNode[b.node] = {serviceAccountEmail: email, secretIds: b.chunks.map((c) => c.name)}
  }
  return {perNode, calls}
}

/** Deletes every secret labelled with the cluster, and each listed node's service account. */
export async function destroyGcpSecrets(
  clients: GcpSecretClients,
  project: string,
  cluster: string,
  nodes: readonly string[],
  opts: Omit<GcpSecretOptions, 'labels'> = {},
): Promise<{calls: SecretCall[]}> {
  const {calls, note} = callLog(opts.onCall)
  const iam = (clients.iamEndpoint ?? 'https://iam.googleapis.com').replace(/\/+$/, '')
  note('secretmanager', 'listSecrets', `projects/${project} labels.nodegen-cluster=${cluster}`)
  if (!opts.dryRun) {
    const [secrets] = await clients.secretManager.listSecrets({parent: `projects/${project}`, filter: `labels.nodegen-cluster=${cluster}`})
    for (const s of secrets) {
      if (!s.name || s.labels?.['nodegen-cluster'] !== cluster) continue
      note('secretmanager', 'deleteSecret', s.name)
      try {
        await clients.secretManager.deleteSecret({name: s.name})
      } catch (e) {
        if (status(e) !== 404) throw e
      }
    }
  }
  for (const node of nodes) {
    const email = gcpServiceAccountEmail(project, cluster, node)
    note('iam', 'serviceAccounts.delete', email)
    if (opts.dryRun) continue
    try {
      await clients.http.request({url: `${iam}/v1/projects/${project}/serviceAccounts/${email}`, method: 'DELETE'})
    } catch (e) {
      if (status(e) !== 404) throw e
    }
  }
  return {calls}
}
