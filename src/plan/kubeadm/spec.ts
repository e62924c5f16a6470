/**
 * What nodegen asks of kubeadm, in no API version: built once from the Cluster by build.ts, then
 * written as `kubeadm.k8s.io/v1beta3` or `/v1beta4` by the output module src/plan/target.ts picks.
 * Fields a version lacks are dropped by that version's module, never by the builder.
 */
import type {ControlPlaneComponent, KeyAlgorithm, KubeadmApi, KubeadmTimeout, Taint} from '../../profile/index.js'

/** kubeadm's waits in seconds, by kubeadm v1beta4's names; absent: kubeadm's default. */
export type Timeouts = Partial<Record<KubeadmTimeout, number>>

/** A command-line flag without its leading dashes; v1beta4 writes a list of these, v1beta3 a map. */
export interface Arg {
  name: string
  value: string
}

export interface NodeRegistrationSpec {
  name: string
  criSocket: string
  /** Always written, even empty: kubeadm reads a missing list as "the default control-plane taint". */
  taints: Taint[]
  /** Sorted by name, no duplicates. */
  kubeletExtraArgs: Arg[]
  ignorePreflightErrors: string[]
  imagePullPolicy: 'IfNotPresent'
}

export interface ApiEndpointSpec {
  /** Omitted when the node's address is only known at boot (clouds): kubeadm detects it. */
  advertiseAddress?: string
  bindPort: number
}

export interface BootstrapTokenSpec {
  token: string
  description: string
  ttlSeconds: number
  usages: string[]
  groups: string[]
}

export interface InitSpec {
  /** kubeadm's waits the profile sets (seconds); the others are kubeadm's defaults. */
  timeouts: Timeouts
  bootstrapTokens: BootstrapTokenSpec[]
  nodeRegistration: NodeRegistrationSpec
  localAPIEndpoint: ApiEndpointSpec
  patchesDirectory?: string
}

export type EtcdSpec = {local: {dataDir: string}} | {external: {endpoints: string[]; caFile: string; certFile: string; keyFile: string}}

export interface ClusterSpec {
  clusterName: string
  /** `v1.34.2` */
  kubernetesVersion: string
  /** `host:port` */
  controlPlaneEndpoint: string
  imageRepository: string
  certificatesDir: string
  networking: {podSubnet: string; serviceSubnet: string; dnsDomain: string}
  /** Sorted, no duplicates. */
  certSANs: string[]
  etcd: EtcdSpec
  featureGates: Record<string, boolean>
  /** Written by APIs that have the field (v1beta4); v1beta3 kubeadm always uses RSA-2048 for what it issues. */
  encryptionAlgorithm: KeyAlgorithm
  certificateValiditySeconds: number
  caCertificateValiditySeconds: number
  /** v1beta3 keeps the control-plane wait here (apiServer.timeoutForControlPlane). */
  timeouts: Timeouts
  /** Each component's extra flags, sorted by name; etcd's apply to a local (stacked) etcd. */
  extraArgs: Record<ControlPlaneComponent, Arg[]>
}

export interface JoinSpec {
  /** As InitSpec's. */
  timeouts: Timeouts
  discovery: {apiServerEndpoint: string; token: string; caCertHashes: string[]}
  nodeRegistration: NodeRegistrationSpec
  /** Present for control planes: the node runs an API server. No certificateKey: nodegen pre-places the shared CAs. */
  controlPlane?: {localAPIEndpoint: ApiEndpointSpec}
  patchesDirectory?: string
}

/** One kubeadm config API version as an output module (`kubeadm.k8s.io/<api>`). */
export interface KubeadmApiModule {
  readonly api: KubeadmApi
  /** `kubeadm.k8s.io/v1beta4` */
  readonly apiVersion: string
  initConfiguration(spec: InitSpec): Record<string, unknown>
  clusterConfiguration(spec: ClusterSpec): Record<string, unknown>
  joinConfiguration(spec: JoinSpec): Record<string, unknown>
  /**
   * An UpgradeConfiguration for `kubeadm upgrade apply|node --config`, where the API has one
   * (v1beta4); undefined for v1beta3, whose upgrades take `--patches` on the command line.
   */
  upgradeConfiguration?(spec: UpgradeSpec): Record<string, unknown>
}

export interface UpgradeSpec {
  timeouts: Timeouts
  patchesDirectory?: string
}
