/**
 * Secret backends on the clouds: what `launch` calls before it creates instances ("prepare
 * secrets") and `destroy` after. The bundles come from plan/secrets (pure); this module only talks
 * to the APIs.
 */
export {
  type AwsPrepared,
  type AwsSecretClients,
  type AwsSecretOptions,
  destroyAwsSecrets,
  EC2_METADATA_OPTIONS,
  nodePolicy,
  prepareAwsSecrets,
  ROLE_POLICY_NAME,
} from './aws.js'
export type {SecretCall} from './calls.js'
export {
  type CloudSecretClients,
  defaultAwsSecretClients,
  defaultGcpSecretClients,
  destroyCloudSecrets,
  type NodeIdentity,
  prepareCloudSecrets,
} from './clients.js'
export {
  ACCESSOR_ROLE,
  type AuthorizedRequester,
  destroyGcpSecrets,
  type GcpPrepared,
  type GcpSecretClients,
  type GcpSecretOptions,
  prepareGcpSecrets,
  VERSION_MANAGER_ROLE,
} from './gcp.js'
export {awsIdentityName, gcpServiceAccountEmail, gcpServiceAccountId} from './names.js'
