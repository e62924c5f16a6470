/**
 * kubeadm.k8s.io/v1beta3 (Kubernetes 1.29–1.30, frozen since 1.31): extra arguments are maps, and
 * there is no `encryptionAlgorithm` nor any certificate validity field — kubeadm of these versions
 * issues RSA-2048 leaf certificates valid for a year, whatever CA nodegen placed.
 */
import {formatDuration} from '../../../profile/text.js'
import {apiEndpoint, argSections, bootstrapTokens, discovery, patches} from '../shared.js'
import type {Arg, ClusterSpec, InitSpec, JoinSpec, KubeadmApiModule} from '../spec.js'

const API_VERSION = 'kubeadm.k8s.io/v1beta3'

/** A map keeps one value per flag; the builder already merged duplicates (last one wins). */
function args(list: Arg[]): Record<string, string> | undefined {
  return list.length > 0 ? Object.fromEntries(list.map((a) => [a.name, a.value])) : undefined
}

/** The two waits v1beta3 has (see KUBEADM_TIMEOUTS); validation warns about the others. */
function duration(seconds: number | undefined): string | undefined {
  return seconds !== undefined ? formatDuration(seconds) : undefined
}

const {component, etcd, nodeRegistration} = argSections(args)

export const v1beta3: KubeadmApiModule = Object.freeze({
  api: 'v1beta3' as const,
  apiVersion: API_VERSION,

  initConfiguration(spec: InitSpec) {
    return {
      apiVersion: API_VERSION,
      kind: 'InitConfiguration',
      bootstrapTokens: bootstrapTokens(spec.bootstrapTokens),
      nodeRegistration: nodeRegistration(spec.nodeRegistration),
      localAPIEndpoint: apiEndpoint(spec.localAPIEndpoint),
      patches: patches(spec.patchesDirectory),
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
      apiServer: {
        certSANs: spec.certSANs,
        timeoutForControlPlane: duration(spec.timeouts.controlPlaneComponentHealthCheck),
        extraArgs: args(spec.extraArgs.apiServer),
      },
      controllerManager: component(spec.extraArgs.controllerManager),
      scheduler: component(spec.extraArgs.scheduler),
      etcd: etcd(spec),
      featureGates: Object.keys(spec.featureGates).length > 0 ? spec.featureGates : undefined,
    }
  },

  joinConfiguration(spec: JoinSpec) {
    return {
      apiVersion: API_VERSION,
      kind: 'JoinConfiguration',
      discovery: {...discovery(spec.discovery), timeout: duration(spec.timeouts.discovery)},
      nodeRegistration: nodeRegistration(spec.nodeRegistration),
      controlPlane: spec.controlPlane ? {localAPIEndpoint: apiEndpoint(spec.controlPlane.localAPIEndpoint)} : undefined,
      patches: patches(spec.patchesDirectory),
    }
  },
})
