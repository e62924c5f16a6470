/**
 * Which output module writes each versioned format for a cluster — the one place that answers
 * "which kubeadm API for 1.30?" and "which Ignition spec for these Flatcar nodes?". The
 * version-to-API table itself is the profile's (`KubernetesTarget.kubeadmApi`,
 * src/profile/kubernetes.ts; `spec.ignition.version`); builders and emitters ask here for the module
 * and never test a version themselves.
 */
import {IGNITION_SPECS, type IgnitionSpec} from '../emit/ignition/index.js'
import type {Cluster, KubeadmApi, KubernetesTarget} from '../profile/index.js'
import type {KubeadmApiModule} from './kubeadm/spec.js'
import {v1beta3} from './kubeadm/v1beta3/index.js'
import {v1beta4} from './kubeadm/v1beta4/index.js'

/** Every kubeadm config API nodegen can write. */
export const KUBEADM_APIS: Readonly<Record<KubeadmApi, KubeadmApiModule>> = Object.freeze({v1beta3, v1beta4})

/** The kubeadm config API module for a Kubernetes version: v1beta3 for 1.29–1.30, v1beta4 from 1.31. */
export function kubeadmApiFor(kubernetes: Pick<KubernetesTarget, 'kubeadmApi'>): KubeadmApiModule {
  return KUBEADM_APIS[kubernetes.kubeadmApi]
}

/** The Ignition config spec of the cluster's Ignition nodes: `spec.ignition.version`, 3.3.0 by default. */
export function ignitionSpecFor(cluster: Pick<Cluster, 'ignition'>): IgnitionSpec {
  return IGNITION_SPECS[cluster.ignition.version]
}
