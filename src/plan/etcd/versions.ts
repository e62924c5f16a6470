/**
 * The etcd image for each Kubernetes minor: kubeadm's `constants.SupportedEtcdVersion`
 * (cmd/kubeadm/app/constants/constants.go) as of the newest patch releases, so an external etcd
 * cluster runs what a stacked one of the same Kubernetes version would. Sources: release-1.32
 * maps 1.29–1.32 to 3.5.24-0, release-1.34 maps 1.33 to 3.5.24-0 and 1.34 to 3.6.5-0, and master
 * (1.36) maps 1.35–1.36 to 3.6.8-0. 3.5.24 is also the oldest external etcd kubeadm accepts
 * (`MinExternalEtcdVersion`). Frozen: a new minor gets a new row.
 */
import {SUPPORTED} from '../../profile/kubernetes.js'

export const ETCD_VERSIONS: Readonly<Record<number, string>> = Object.freeze({
  29: '3.5.24-0',
  30: '3.5.24-0',
  31: '3.5.24-0',
  32: '3.5.24-0',
  33: '3.5.24-0',
  34: '3.6.5-0',
  35: '3.6.8-0',
  36: '3.6.8-0',
})

/** The registry.k8s.io/etcd tag for a Kubernetes minor nodegen supports. */
export function etcdImageTag(minor: number): string {
  const tag = ETCD_VERSIONS[minor]
  if (tag === undefined)
    throw new Error(`internal: no etcd version for Kubernetes 1.${minor} (supported 1.${SUPPORTED.minMinor}–1.${SUPPORTED.maxMinor})`)
  return tag
}
