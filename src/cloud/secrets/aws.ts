/**
 * AWS side of the secret backends: stores each node's bundle in Secrets Manager (or SSM Parameter
 * Store) and gives the node an IAM role and instance profile whose only permission is to read and
 * delete its own secret. Idempotent: a second run reuses the identities and replaces the values.
 * `destroyAwsSecrets` removes both. Dry runs list the calls (names only, never values).
 */
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  type IAMClient,
  PutRolePolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam'
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager'
import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import type {SecretBundle} from '../../plan/secrets/index.js'
import {callLog, type SecretCall} from './calls.js'
import {awsIdentityName} from './names.js'

export interface AwsSecretClients {
  secretsManager: SecretsManagerClient
  ssm: SSMClient
  iam: IAMClient
}

export interface AwsSecretOptions {
  /** List the calls without making them. @default false */
  dryRun?: boolean
  /** Tags put on every secret, role and instance profile besides nodegen's own (spec.platform.aws.tags). @default {} */
  tags?: Record<string, string>
  /** Called once per call made (or planned, in a dry run). */
  onCall?: (call: SecretCall) => void
}

export interface AwsPrepared {
  /** Per node: the instance profile `launch` attaches (IamInstanceProfile.Name) and its role. */
  perNode: Record<string, {instanceProfileName: string; roleName: string; secretNames: string[]}>
  calls: SecretCall[]
}

const EC2_TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{Effect: 'Allow', Principal: {Service: 'ec2.amazonaws.com'}, Action: 'sts:AssumeRole'}],
})
export const ROLE_POLICY_NAME = 'nodegen-secret-bundle'
const IAM_PATH = '/nodegen/'

function errName(e: unknown): string {
  return (e as {name?: string}).name ?? ''
}

/** The inline policy of a node's role: read and delete exactly its own secrets. */
export function nodePolicy(backend: SecretBundle['backend'], arns: string[]): string {
  const actions =
    backend === 'ssm-parameter-store'
      ? ['ssm:GetParameter', 'ssm:DeleteParameter']
      : ['secretsmanager:GetSecretValue', 'secretsmanager:DeleteSecret']
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{Sid: 'OwnSecretBundleOnly', Effect: 'Allow', Action: actions, Resource: arns}],
  })
}

/**
 * Stores every bundle and creates (or reuses) each node's role and instance profile. Pass only the
 * bundles of nodes about to be launched: a node that has booted deleted its secret, and storing it
 * again would leave CA keys nobody collects.
 */
export async function prepareAwsSecrets(
  clients: AwsSecretClients,
  cluster: string,
  bundles: readonly SecretBundle[],
  opts: AwsSecretOptions = {},
): Promise<AwsPrepared> {
  const {calls, note} = callLog(opts.onCall)
  const perNode: AwsPrepared['perNode'] = {}
  for (const b of bundles) {
    if (b.backend !== 'aws-secrets-manager' && b.backend !== 'ssm-parameter-store')
      throw new Error(`bundle of ${b.node} is for ${b.backend}`)
    const tagMap = {...(opts.tags ?? {}), ...b.labels}
    const tags = Object.entries(tagMap).map(([Key, Value]) => ({Key, Value}))
    const arns: string[] = []
    for (const chunk of b.chunks) {
      if (b.backend === 'aws-secrets-manager') {
        note('secretsmanager', 'CreateSecret', chunk.name)
        if (opts.dryRun) {
          arns.push(`arn:aws:secretsmanager:*:*:secret:${chunk.name}-??????`)
          continue
        }
        arns.push(await storeSecret(clients.secretsManager, chunk, b, tags, note))
      } else {
        note('ssm', 'PutParameter', chunk.name)
        if (opts.dryRun) {
          arns.push(`arn:aws:ssm:*:*:parameter${chunk.name}`)
          continue
        }
        await clients.ssm.send(
          new PutParameterCommand({Name: chunk.name, Value: chunk.value, Type: 'SecureString', Tier: 'Advanced', Overwrite: true}),
        )
        note('ssm', 'AddTagsToResource', chunk.name)
        await clients.ssm.send(new AddTagsToResourceCommand({ResourceType: 'Parameter', ResourceId: chunk.name, Tags: tags}))
        note('ssm', 'GetParameter', chunk.name)
        const got = await clients.ssm.send(new GetParameterCommand({Name: chunk.name, WithDecryption: false}))
        if (!got.Parameter?.ARN) throw new Error(`SSM returned no ARN for ${chunk.name}`)
        arns.push(got.Parameter.ARN)
      }
    }
    const name = awsIdentityName(cluster, b.node)
    note('iam', 'CreateRole', name)
    if (!opts.dryRun) {
      try {
        await clients.iam.send(
          new CreateRoleCommand({
            RoleName: name,
            Path: IAM_PATH,
            AssumeRolePolicyDocument: EC2_TRUST,
            Description: `nodegen: ${cluster}/${b.node} reads its secret bundle once`,
            Tags: tags,
          }),
        )
      } catch (e) {
        if (errName(e) !== 'EntityAlreadyExistsException') throw e
        note('iam', 'UpdateAssumeRolePolicy', name)
        await clients.iam.send(new UpdateAssumeRolePolicyCommand({RoleName: name, PolicyDocument: EC2_TRUST}))
      }
    }
    note('iam', 'PutRolePolicy', `${name}/${ROLE_POLICY_NAME}`)
    if (!opts.dryRun)
      await clients.iam.send(
        new PutRolePolicyCommand({RoleName: name, PolicyName: ROLE_POLICY_NAME, PolicyDocument: nodePolicy(b.backend, arns)}),
      )
    note('iam', 'CreateInstanceProfile', name)
    if (!opts.dryRun) {
      let roles: string[] = []
      try {
        await clients.iam.send(new CreateInstanceProfileCommand({InstanceProfileName: name, Path: IAM_PATH, Tags: tags}))
      } catch (e) {
        if (errName(e) !== 'EntityAlreadyExistsException') throw e
        note('iam', 'GetInstanceProfile', name)
        const ip = await clients.iam.send(new GetInstanceProfileCommand({InstanceProfileName: name}))
        roles = (ip.InstanceProfile?.Roles ?? []).map((r) => r.RoleName ?? '')
      }
      if (!roles.includes(name)) {
        note('iam', 'AddRoleToInstanceProfile', name)
        await clients.iam.send(new AddRoleToInstanceProfileCommand({InstanceProfileName: name, RoleName: name}))
      }
    } else note('iam', 'AddRoleToInstanceProfile', name)
    perNode[b.node] = {instanceProfileName: name, roleName: name, secretNames: b.chunks.map((c) => c.name)}
  }
  return {perNode, calls}
}

async function storeSecret(
  sm: SecretsManagerClient,
  chunk: SecretBundle['chunks'][number],
  b: SecretBundle,
  tags: Array<{Key: string; Value: string}>,
  note: (s: string, a: string, t: string) => void,
): Promise<string> {
  try {
    const r = await sm.send(
      new CreateSecretCommand({
        Name: chunk.name,
        SecretString: chunk.value,
        Description: `nodegen: secret files of ${b.cluster}/${b.node} (sha256 of the bundle ${b.sha256}); the node deletes it after first boot`,
        Tags: tags,
      }),
    )
    if (!r.ARN) throw new Error(`Secrets Manager returned no ARN for ${chunk.name}`)
    return r.ARN
  } catch (e) {
    const n = errName(e)
    if (n === 'InvalidRequestException' && /scheduled for deletion/i.test((e as Error).message)) {
      note('secretsmanager', 'RestoreSecret', chunk.name)
      await sm.send(new RestoreSecretCommand({SecretId: chunk.name}))
    } else if (n !== 'ResourceExistsException') throw e
    note('secretsmanager', 'PutSecretValue', chunk.name)
    await sm.send(new PutSecretValueCommand({SecretId: chunk.name, SecretString: chunk.value}))
    note('secretsmanager', 'TagResource', chunk.name)
    await sm.send(new TagResourceCommand({SecretId: chunk.name, Tags: tags}))
    note('secretsmanager', 'DescribeSecret', chunk.name)
    const d = await sm.send(new DescribeSecretCommand({SecretId: chunk.name}))
    if (!d.ARN) throw new Error(`Secrets Manager returned no ARN for ${chunk.name}`)
    return d.ARN
  }
}

/**
 * Removes what {@link prepareAwsSecrets} created for the cluster: every secret (or parameter) under
 * the cluster's prefix, and each listed node's instance profile and role. Missing ones are fine.
 */
export async function destroyAwsSecrets(
  clients: AwsSecretClients,
  cluster: string,
  nodes: readonly string[],
  opts: Omit<AwsSecretOptions, 'tags'> & {backend?: 'aws-secrets-manager' | 'ssm-parameter-store'} = {},
): Promise<{calls: SecretCall[]}> {
  const {calls, note} = callLog(opts.onCall)
  const backend = opts.backend ?? 'aws-secrets-manager'
  if (backend === 'aws-secrets-manager') {
    const prefix = `nodegen/${cluster}/`
    note('secretsmanager', 'ListSecrets', `${prefix}*`)
    const names: string[] = []
    if (!opts.dryRun) {
      let token: string | undefined
      do {
        const r = await clients.secretsManager.send(
          new ListSecretsCommand({Filters: [{Key: 'name', Values: [prefix]}], ...(token ? {NextToken: token} : {})}),
        )
        for (const s of r.SecretList ?? []) if (s.Name?.startsWith(prefix)) names.push(s.Name)
        token = r.NextToken
      } while (token)
    }
    for (const n of names) {
      note('secretsmanager', 'DeleteSecret', n)
      try {
        await clients.secretsManager.send(new DeleteSecretCommand({SecretId: n, ForceDeleteWithoutRecovery: true}))
      } catch (e) {
        if (errName(e) !== 'ResourceNotFoundException') throw e
      }
    }
  } else {
    const path = `/nodegen/${cluster}`
    note('ssm', 'GetParametersByPath', path)
    const names: string[] = []
    if (!opts.dryRun) {
      let token: string | undefined
      do {
        const r = await clients.ssm.send(
          new GetParametersByPathCommand({Path: path, Recursive: true, ...(token ? {NextToken: token} : {})}),
        )
        for (const p of r.Parameters ?? []) if (p.Name) names.push(p.Name)
        token = r.NextToken
      } while (token)
    }
    for (const n of names) {
      note('ssm', 'DeleteParameter', n)
      try {
        await clients.ssm.send(new DeleteParameterCommand({Name: n}))
      } catch (e) {
        if (errName(e) !== 'ParameterNotFound') throw e
      }
    }
  }
  for (const node of nodes) {
    const name = awsIdentityName(cluster, node)
    const steps: Array<[string, () => Promise<unknown>]> = [
      [
        'RemoveRoleFromInstanceProfile',
        () => clients.iam.send(new RemoveRoleFromInstanceProfileCommand({InstanceProfileName: name, RoleName: name})),
      ],
      ['DeleteInstanceProfile', () => clients.iam.send(new DeleteInstanceProfileCommand({InstanceProfileName: name}))],
      ['DeleteRolePolicy', () => clients.iam.send(new DeleteRolePolicyCommand({RoleName: name, PolicyName: ROLE_POLICY_NAME}))],
      ['DeleteRole', () => clients.iam.send(new DeleteRoleCommand({RoleName: name}))],
    ]
    for (const [action, run] of steps) {
      note('iam', action, name)
      if (opts.dryRun) continue
      try {
        await run()
      } catch (e) {
        if (errName(e) !== 'NoSuchEntityException') throw e
      }
    }
  }
  return {calls}
}

/**
 * EC2 metadata options every nodegen instance gets (the launch code passes them to RunInstances):
 * IMDSv2 only, and a hop limit of 1 so containers (one hop further) cannot reach the metadata
 * service. Mandatory with `secretBackend: inline`, where user-data holds CA keys.
 */
export const EC2_METADATA_OPTIONS = Object.freeze({HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled'} as const)
