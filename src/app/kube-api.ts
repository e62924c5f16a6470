/**
 * The one adapter that talks to a running cluster's API server: requests with a kubeconfig's
 * embedded credentials (what kubeadm and nodegen write), and the certificate a TLS server presents.
 * Nothing here prints or logs a credential.
 */
import {readFileSync} from 'node:fs'
import https from 'node:https'
import net from 'node:net'
import tls from 'node:tls'
import {parseKubeconfigCredentials} from '../pki/kubeconfig.js'

export interface KubeClient {
  server: string
  ca?: string
  cert?: string
  key?: string
  token?: string
}

/** The credentials of a kubeconfig file; throws with a reason when it has none nodegen can use. */
export function kubeClientFrom(file: string): KubeClient {
  const text = readFileSync(file, 'utf8')
  const c = parseKubeconfigCredentials(text)
  const token = /^\s*token:\s*(\S+)\s*$/m.exec(text)?.[1]
  if (!c.server) throw new Error('it names no server')
  if (c.clientKey?.includes('ENCRYPTED')) throw new Error('its client key is encrypted (nodegen pki encrypt): decrypt a copy first')
  if (!(c.clientCert && c.clientKey) && !token)
    throw new Error('it has neither an embedded client certificate and key nor a token (client-certificate-data, client-key-data, token)')
  return {
    server: c.server.replace(/\/+$/, ''),
    ...(c.caCert ? {ca: c.caCert} : {}),
    ...(c.clientCert ? {cert: c.clientCert} : {}),
    ...(c.clientKey ? {key: c.clientKey} : {}),
    ...(token ? {token} : {}),
  }
}

export interface KubeResponse {
  status: number
  body: string
}

/** One request to the API server, verified against the kubeconfig's CA. */
export function kubeRequest(
  client: KubeClient,
  method: string,
  path: string,
  body?: {contentType: string; text: string},
  timeoutMs = 15_000,
): Promise<KubeResponse> {
  const url = new URL(path, `${client.server}/`)
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ...(client.ca ? {ca: client.ca} : {}),
        ...(client.cert ? {cert: client.cert} : {}),
        ...(client.key ? {key: client.key} : {}),
        headers: {
          Accept: 'application/json',
          ...(client.token ? {Authorization: `Bearer ${client.token}`} : {}),
          ...(body ? {'Content-Type': body.contentType, 'Content-Length': Buffer.byteLength(body.text)} : {}),
        },
        timeout: timeoutMs,
      },
      (res) => {
        let data = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          data += d
        })
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: data}))
      },
    )
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)))
    req.on('error', reject)
    if (body) req.write(body.text)
    req.end()
  })
}

/** The API server's version (`/version`'s gitVersion without the `v`). */
export async function serverVersion(client: KubeClient): Promise<string> {
  const r = await kubeRequest(client, 'GET', '/version')
  if (r.status !== 200) throw new Error(`/version answered ${r.status}`)
  const v = (JSON.parse(r.body) as {gitVersion?: string}).gitVersion ?? ''
  const m = /^v?(\d+\.\d+\.\d+)/.exec(v)
  if (!m?.[1]) throw new Error(`/version has no version: ${v}`)
  return m[1]
}

/**
 * The certificate chain a TLS server presents at `server` (https://host:port), as PEM, leaf first;
 * not verified (the caller reads expiry, and an expired certificate must still be shown).
 */
export function presentedCertificates(server: string, timeoutMs = 10_000): Promise<string[]> {
  const url = new URL(server)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port: Number(url.port || 443),
      ...(net.isIP(host) ? {} : {servername: host}),
      rejectUnauthorized: false,
      timeout: timeoutMs,
    })
    socket.once('secureConnect', () => {
      const pems: string[] = []
      let c = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined
      const seen = new Set<string>()
      while (c?.raw && !seen.has(c.fingerprint256)) {
        seen.add(c.fingerprint256)
        pems.push(
          `-----BEGIN CERTIFICATE-----\n${c.raw.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`,
        )
        c = c.issuerCertificate
      }
      socket.end()
      resolve(pems)
    })
    socket.once('timeout', () => socket.destroy(new Error(`no TLS answer within ${timeoutMs / 1000}s`)))
    socket.once('error', reject)
  })
}
