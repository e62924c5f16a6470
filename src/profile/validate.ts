/**
 * Semantic checks over a schema-valid profile, and its normalisation into the {@link Cluster}
 * model. Pure: every problem goes into the report with its field path; nothing throws. Each
 * section's checks and normalised form live in checks/, a module per section of the profile;
 * buildCluster runs them in the order the diagnostics come out and assembles the Cluster.
 */
import {checkAirgap} from './checks/airgap.js'
import {bootstrapModel, checkBootstrapTimeout, checkStatusUrl} from './checks/bootstrap.js'
import {checkBootstrapToken, checkTokenLifetime} from './checks/bootstrap-token.js'
import {checkContainerRuntime, checkRuntimeRepositories, runtimeModel} from './checks/container-runtime.js'
import {checkEndpoint, loadBalancerModel} from './checks/endpoint.js'
import {checkFiles} from './checks/files.js'
import {checkKubelet} from './checks/kubelet.js'
import {checkFeatureGates, checkKubeadmOptions, checkKubernetes, kubernetesModel} from './checks/kubernetes.js'
import {checkMetadata} from './checks/metadata.js'
import {checkNetworking, networkingModel} from './checks/networking.js'
import {checkClusterShape, checkNodes} from './checks/nodes.js'
import {checkPki, checkRenewBefore} from './checks/pki.js'
import {checkPlatform, checkPxe} from './checks/platform.js'
import {checkProxy} from './checks/proxy.js'
import {checkUsers} from './checks/users.js'
import type {Report} from './diagnostics.js'
import type {Cluster} from './model.js'
import type {Profile} from './schema.js'

/** Options of the commands that turn a profile into user-data. */
export interface BuildOptions {
  /** Accept `secretBackend: inline` on aws/gcp (CA keys in user-data), with a warning. @default false */
  insecureInlineSecrets?: boolean
}

/** Validates and normalises. Returns undefined when the report has errors. */
export function buildCluster(p: Profile, source: string, report: Report, opts: BuildOptions = {}): Cluster | undefined {
  const s = p.spec
  // The order of these calls is the order of the diagnostics, which users read and the tests
  // compare: some sections are checked in steps because another section's checks come in between.
  checkMetadata(report, p.metadata)
  const version = checkKubernetes(report, s.kubernetes)
  const target = version.target
  checkRuntimeRepositories(report, s.containerRuntime)
  checkFeatureGates(report, s.kubernetes, version)
  const validity = checkPki(report, s.pki, version)
  const bootstrapToken = checkBootstrapToken(report, s.bootstrapToken)
  const timeoutSeconds = checkBootstrapTimeout(report, s.bootstrap)
  const renewBeforeSeconds = checkRenewBefore(report, s.pki, validity.certValiditySeconds)
  const kubeadm = checkKubeadmOptions(report, s.kubernetes, target, s.topology)
  checkTokenLifetime(report, s.bootstrapToken, bootstrapToken.ttlSeconds, s.platform.type)
  const networks = checkNetworking(report, s.networking)
  const nodes = checkNodes(report, s, networks)
  checkContainerRuntime(report, s.containerRuntime, target, nodes)
  checkClusterShape(report, s.topology, nodes)
  const endpoint = checkEndpoint(report, s, nodes)
  checkPlatform(report, s.platform, Boolean(opts.insecureInlineSecrets))
  checkKubelet(report, s.kubelet)
  checkUsers(report, s.users)
  checkProxy(report, s.proxy)
  checkFiles(report, s.files, nodes, s.ignition.version)
  checkStatusUrl(report, s.bootstrap)
  checkPxe(report, s.platform)
  const airgap = s.airgap && checkAirgap(report, s, nodes)
  if (!report.ok) return undefined

  return {
    name: p.metadata.name,
    source,
    kubernetes: kubernetesModel(s.kubernetes, target, kubeadm, airgap?.bundle),
    topology: s.topology,
    endpoint,
    loadBalancer: loadBalancerModel(s),
    networking: networkingModel(s.networking, networks, nodes.length),
    runtime: runtimeModel(s.containerRuntime, target),
    image: s.image,
    ...(airgap ? {airgap} : {}),
    ignition: s.ignition,
    pki: {keyAlgorithm: s.pki.keyAlgorithm, ...validity, renewBeforeSeconds},
    upgrade: {maxUnavailableWorkers: s.upgrade.maxUnavailableWorkers},
    bootstrapToken,
    users: s.users,
    ...(s.proxy ? {proxy: s.proxy} : {}),
    firewall: s.firewall,
    selinux: s.selinux,
    files: s.files,
    kubelet: s.kubelet,
    bootstrap: bootstrapModel(s.bootstrap, timeoutSeconds),
    platform: s.platform,
    nodes,
  }
}
