/** `pki check-expiration --kubeconfig/--server`: what a running API server presents, and its version. */
import {type Expiring, expirations} from '../pki/index.js'
import {describeCertificate} from '../pki/inspect.js'
import {kubeClientFrom, presentedCertificates, serverVersion} from './kube-api.js'

export interface ServedCertificates {
  server: string
  /** The API server's version, when a kubeconfig gave credentials. */
  version?: string
  /** The presented chain, leaf first: `apiserver` (the serving certificate), then `chain-1`, .... */
  certificates: Array<Expiring & {subject: string}>
}

export async function servedCertificates(
  from: {kubeconfig?: string | undefined; server?: string | undefined},
  now: Date,
  windowSeconds: number,
): Promise<ServedCertificates> {
  const client = from.kubeconfig !== undefined ? kubeClientFrom(from.kubeconfig) : undefined
  const server = (from.server ?? client?.server ?? '').replace(/\/+$/, '')
  if (!/^https:\/\//.test(server)) throw new Error(`${server || 'no server'} is not an https:// URL`)
  const pems = await presentedCertificates(server)
  if (pems.length === 0) throw new Error(`${server} presented no certificate`)
  const infos = pems.map((pem, i) => describeCertificate('(served)', i === 0 ? 'apiserver' : `chain-${i}`, pem))
  const exp = expirations(infos, now, windowSeconds)
  const version = client ? await serverVersion(client).catch(() => undefined) : undefined
  return {
    server,
    ...(version ? {version} : {}),
    certificates: exp.map((e, i) => ({...e, subject: infos[i]?.subject ?? ''})),
  }
}
