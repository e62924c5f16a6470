/**
 * A SigV4 verifier for the local AWS endpoints, written from AWS's documentation ("Create a signed
 * AWS API request", IAM User Guide): canonical request, string to sign, the derived signing key.
 * Independent of the node's shell implementation and of the SDK; the fakes also re-sign each
 * request with the SDK's own signer (@smithy/signature-v4) and require the same signature.
 */
import {createHash, createHmac} from 'node:crypto'
import {SignatureV4} from '@smithy/signature-v4'

export interface SignedRequest {
  method: string
  /** Raw path as sent, like `/`. */
  path: string
  /** Raw query string without `?`. */
  query: string
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

export interface Credentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

export type Verdict = {ok: true; accessKeyId: string; region: string; service: string} | {ok: false; reason: string}

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex')
const hmac = (k: string | Buffer, m: string) => createHmac('sha256', k).update(m, 'utf8').digest()

/** RFC 3986 unreserved characters stay, everything else is %XX (uppercase), as SigV4 requires. */
export function uriEncode(s: string, keepSlash = false): string {
  let out = ''
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte)
    if (/[A-Za-z0-9_.~-]/.test(c) || (keepSlash && c === '/')) out += c
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

function header(req: SignedRequest, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v.join(',') : v
}

export function canonicalRequest(req: SignedRequest, signedHeaders: string[]): string {
  // Non-S3 services: each path segment is encoded (again) after normalisation.
  const path =
    req.path === ''
      ? '/'
      : req.path
          .split('/')
          .map((seg) => uriEncode(seg))
          .join('/')
  const pairs = req.query
    .split('&')
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=')
      const k = decodeURIComponent(i < 0 ? p : p.slice(0, i))
      const v = i < 0 ? '' : decodeURIComponent(p.slice(i + 1).replace(/\+/g, '%20'))
      return [uriEncode(k), uriEncode(v)] as const
    })
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
  const query = pairs.map(([k, v]) => `${k}=${v}`).join('&')
  const headers = signedHeaders.map((h) => `${h}:${(header(req, h) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('')
  const payload = header(req, 'x-amz-content-sha256') ?? sha256(req.body)
  return [req.method, path, query, headers, signedHeaders.join(';'), payload].join('\n')
}

export function signingKey(secret: string, day: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request')
}

/** Checks the request's Authorization header against the credentials of its access key id. */
export function verifySigV4(req: SignedRequest, lookup: (accessKeyId: string) => Credentials | undefined, now = new Date()): Verdict {
  const auth = header(req, 'authorization') ?? ''
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    )
  if (!m) return {ok: false, reason: 'no SigV4 Authorization header'}
  const [, akid, day, region, service, signed, signature] = m as unknown as string[]
  const creds = lookup(akid as string)
  if (!creds) return {ok: false, reason: `unknown access key ${akid}`}
  const amzDate = header(req, 'x-amz-date') ?? ''
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== day) return {ok: false, reason: 'x-amz-date missing or not the scope day'}
  const t = Date.UTC(
    +amzDate.slice(0, 4),
    +amzDate.slice(4, 6) - 1,
    +amzDate.slice(6, 8),
    +amzDate.slice(9, 11),
    +amzDate.slice(11, 13),
    +amzDate.slice(13, 15),
  )
  if (Math.abs(t - now.getTime()) > 15 * 60_000) return {ok: false, reason: 'request time is more than 15 minutes off'}
  const signedHeaders = (signed as string).split(';')
  if (!signedHeaders.includes('host')) return {ok: false, reason: 'host is not signed'}
  if (creds.sessionToken !== undefined) {
    if (header(req, 'x-amz-security-token') !== creds.sessionToken) return {ok: false, reason: 'wrong session token'}
    if (!signedHeaders.includes('x-amz-security-token')) return {ok: false, reason: 'the session token is not signed'}
  }
  const scope = `${day}/${region}/${service}/aws4_request`
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest(req, signedHeaders))].join('\n')
  const expected = createHmac('sha256', signingKey(creds.secretAccessKey, day as string, region as string, service as string))
    .update(sts)
    .digest('hex')
  if (expected !== signature) return {ok: false, reason: 'signature does not match'}
  return {ok: true, accessKeyId: akid as string, region: region as string, service: service as string}
}

function bytes(d: string | ArrayBuffer | ArrayBufferView): string | Buffer {
  if (typeof d === 'string') return d
  if (d instanceof ArrayBuffer) return Buffer.from(d)
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength)
}

class NodeSha256 {
  private readonly h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytes(data))
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest())
  }
  reset(): void {}
}

/** The signature the AWS SDK's own signer computes for the same request, headers and time. */
export async function smithySignature(req: SignedRequest, creds: Credentials, hostHeader: string): Promise<string> {
  const auth = header(req, 'authorization') ?? ''
  const m = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+)/.exec(auth)
  if (!m) return ''
  const [, region, service, signed] = m as unknown as string[]
  const headers: Record<string, string> = {}
  for (const h of (signed as string).split(';')) headers[h] = header(req, h) ?? ''
  const amz = headers['x-amz-date'] as string
  const date = new Date(
    `${amz.slice(0, 4)}-${amz.slice(4, 6)}-${amz.slice(6, 8)}T${amz.slice(9, 11)}:${amz.slice(11, 13)}:${amz.slice(13, 15)}Z`,
  )
  const [hostname, port] = hostHeader.split(':')
  const query: Record<string, string> = {}
  for (const [k, v] of new URLSearchParams(req.query)) query[k] = v
  const signer = new SignatureV4({
    credentials: creds,
    region: region as string,
    service: service as string,
    sha256: NodeSha256,
    applyChecksum: false,
  })
  const signedReq = await signer.sign(
    {
      method: req.method,
      protocol: 'https:',
      hostname: hostname as string,
      ...(port ? {port: Number(port)} : {}),
      path: req.path,
      query,
      headers,
      body: req.body.toString('utf8'),
    },
    {signingDate: date},
  )
  const a = (signedReq.headers as Record<string, string>).authorization ?? ''
  return /Signature=([0-9a-f]{64})/.exec(a)?.[1] ?? ''
}
