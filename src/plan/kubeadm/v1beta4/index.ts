/**
 * kubeadm.k8s.io/v1beta4 (Kubernetes 1.31+): extra arguments are lists of `{name, value}`, and
 * ClusterConfiguration carries `encryptionAlgorithm` and the certificate validity periods.
 */
import {KUBEADM_TIMEOUTS} from '../../../profile/kubernetes.js'
import {formatDuration} from '../../../profile/text.js'
import {apiEndpoint, argSections, bootstrapTokens, discovery, patches} from '../shared.js'
import type {Arg, ClusterSpec, InitSpec, JoinSpec, KubeadmApiModule, Timeouts, UpgradeSpec} from '../spec.js'

const API_VERSION = 'kubeadm.k8s.io/v1beta4'

function args(list: Arg[]): Array<{name: string; value: string}> | undefined {
  return list.length > 0 ? list.map((a) => ({name: a.name, value: a.value})) : undefined
}

/** The waits the profile sets, in kubeadm's order; none: no `timeouts` (kubeadm's defaults). */
function timeouts(t: Timeouts): Record<string, string> | undefined {
  const set = KUBEADM_TIMEOUTS.filter((k) => t[k.name] !== undefined).map((k) => [k.name, formatDuration(t[k.name] as number)])
  return set.length > 0 ? Object.fromEntries(set) : undefined
}

const {component, etcd, nodeRegistration} = argSections(args)

export const v1beta4: KubeadmApiModule = Object.freeze({
  api: 'v1beta4' as const,
  apiVersion: API_VERSION,

  initConfiguration(spec: InitSpec) {
    return {
      apiVersion: API_VERSION,
      kind: 'InitConfiguration',
      bootstrapTokens: bootstrapTokens(spec.bootstrapTokens),
      nodeRegistration: nodeRegistration(spec.nodeRegistration),
      localAPIEndpoint: apiEndpoint(spec.localAPIEndpoint),
      patches: patches(spec.patchesDirectory),
      timeouts: timeouts(spec.timeouts),
    }
  },

  clusterConfiguration(spec: ClusterSpec) {
    return {
      apiVersion: API_VERSION,
      kind: 'ClusterConfiguration',
      clusterName: spec.clusterName,
      kubernetesVersion: spec.kubernetesVersion,
      controlPlaneEndpoint: spec.controlPlaneEndpoint,
      imageRepository: spec.imageRepository,
      certificatesDir: spec.certificatesDir,
      networking: spec.networking,
      apiServer: {certSANs: spec.certSANs, extraArgs: args(spec.extraArgs.apiServer)},
      controllerManager: component(spec.extraArgs.controllerManager),
      scheduler: component(spec.extraArgs.scheduler),
      etcd: etcd(spec),
      featureGates: Object.keys(spec.featureGates).length > 0 ? spec.featureGates : undefined,
      encryptionAlgorithm: spec.encryptionAlgorithm,
      certificateValidityPeriod: formatDuration(spec.certificateValiditySeconds),
      caCertificateValidityPeriod: formatDuration(spec.caCertificateValiditySeconds),
    }
  },

  joinConfiguration(spec: JoinSpec) {
    return {
      apiVersion: API_VERSION,
      kind: 'JoinConfiguration',
      discovery: discovery(spec.discovery),
      nodeRegistration: nodeRegistration(spec.nodeRegistration),
      controlPlane: spec.controlPlane ? {localAPIEndpoint: apiEndpoint(spec.controlPlane.localAPIEndpoint)} : undefined,
      patches: patches(spec.patchesDirectory),
      timeouts: timeouts(spec.timeouts),
    }
  },

  upgradeConfiguration(spec: UpgradeSpec) {
    return {
      apiVersion: API_VERSION,
      kind: 'UpgradeConfiguration',
      apply: spec.patchesDirectory ? {patches: patches(spec.patchesDirectory)} : undefined,
      timeouts: timeouts(spec.timeouts),
      node: spec.patchesDirectory ? {patches: patches(spec.patchesDirectory)} : undefined,
    }
  },
})
