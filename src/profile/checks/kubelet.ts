/**
 * spec.kubelet: the labels, taints and kubelet flags every node starts from (a node's own are
 * checked with the node).
 */
import type {FieldPath, Report} from '../diagnostics.js'
import type {Profile} from '../schema.js'
import {checkExtraArgs, checkLabels, checkTaints} from './fields.js'

export function checkKubelet(report: Report, kubelet: Profile['spec']['kubelet']): void {
  const path: FieldPath = ['spec', 'kubelet']
  checkLabels(report, [...path, 'labels'], kubelet.labels)
  checkTaints(report, [...path, 'taints'], kubelet.taints)
  checkExtraArgs(report, [...path, 'extraArgs'], kubelet.extraArgs)
}
