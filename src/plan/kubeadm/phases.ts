/**
 * kubeadm join's phases, by the Kubernetes minor, as `kubeadm join` runs them (its join.go
 * `AppendPhase` calls; `etcd-join` and `kubelet-wait-bootstrap` came with the
 * ControlPlaneKubeletLocalMode feature in 1.31, `wait-control-plane` in 1.30).
 */

/** The minor from which kubeadm join has its (hidden) `etcd-join` phase. */
const ETCD_JOIN_PHASE_SINCE = 31

/**
 * The phases a stacked control plane's join skips when it resumes after its etcd member started
 * voting: everything up to and including the one that made it a member. kubeadm refuses a phase name
 * it does not have (`invalid phase name`), so the list follows the minor. The bootstrap program adds
 * `kubelet-start` when the kubelet's TLS bootstrap already wrote kubelet.conf.
 */
export function joinResumeSkipPhases(minor: number): string[] {
  const phases = ['preflight', 'control-plane-prepare', 'check-etcd']
  if (minor >= ETCD_JOIN_PHASE_SINCE) phases.push('etcd-join')
  return phases
}
