/**
 * kubeadm's phases, by the Kubernetes minor, as `kubeadm init` and `kubeadm join` run them (their
 * init.go and join.go `AppendPhase` calls; join's `etcd-join` and `kubelet-wait-bootstrap` came with
 * the ControlPlaneKubeletLocalMode feature in 1.31, its `wait-control-plane` in 1.30; init's list is
 * the same from 1.29 to 1.36).
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

/** kubeadm init's phases in the order it runs them. */
export const INIT_PHASES = Object.freeze([
  'preflight',
  'certs',
  'kubeconfig',
  'etcd',
  'control-plane',
  'kubelet-start',
  'wait-control-plane',
  'upload-config',
  'upload-certs',
  'mark-control-plane',
  'bootstrap-token',
  'kubelet-finalize',
  'addon',
  'show-join-command',
] as const)

/**
 * The phases after which a failed `kubeadm init` is finished rather than reset: those that run once
 * the control plane answered (after wait-control-plane), and can run again. bootstrap-token is not
 * among them: once it created its token, a second run fails ("a token with id ... already exists").
 */
export function initResumablePhases(): string[] {
  return INIT_PHASES.slice(INIT_PHASES.indexOf('wait-control-plane') + 1).filter((p) => p !== 'bootstrap-token')
}
