/**
 * spec.proxy: the outbound proxy's URLs and the no_proxy entries, which reach the nodes' package
 * managers, runtime and bootstrap program.
 */
import type {FieldPath, Report} from '../diagnostics.js'
import type {Profile} from '../schema.js'
import {checkUrl} from './fields.js'

export function checkProxy(report: Report, proxy: Profile['spec']['proxy']): void {
  if (!proxy) return
  const pp: FieldPath = ['spec', 'proxy']
  if (proxy.http !== undefined) checkUrl(report, [...pp, 'http'], proxy.http)
  if (proxy.https !== undefined) checkUrl(report, [...pp, 'https'], proxy.https)
  proxy.noProxy.forEach((e, i) => {
    if (!/^[A-Za-z0-9.*/:_-]+$/.test(e))
      report.error([...pp, 'noProxy', i], 'NG0301', {value: e, what: 'no_proxy entry', why: 'a host, domain, IP or CIDR'})
  })
}
