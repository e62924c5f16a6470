/**
 * Describing certificates for `pki show` and `pki check-expiration`: public data only. It loads
 * @peculiar/x509, so the state's inventory imports it when it runs (expiry.ts has the rest).
 */
import {X509Certificate as NodeX509} from 'node:crypto'
import {keyAlgorithmOf} from './keys.js'
import {x509} from './x509.js'

export interface CertificateInfo {
  /** Path inside the state dir: `pki/ca.crt`, or `admin.conf` for the embedded client certificate. */
  file: string
  /** Row of kubeadm's table: `ca`, `etcd-server`, ...; with the member for per-member rows. */
  name: string
  member?: string
  subject: string
  issuer: string
  /** Hex. */
  serial: string
  notBefore: string
  notAfter: string
  /** `RSA-2048`, `ECDSA-P256`, ... */
  keyAlgorithm: string
  /** `DNS:localhost`, `IP:127.0.0.1`, ... in certificate order. */
  sans: string[]
  isCA: boolean
}

/** The public facts of one certificate. */
export function describeCertificate(file: string, name: string, pem: string, member?: string): CertificateInfo {
  const c = new x509.X509Certificate(pem)
  const san = c.getExtension(x509.SubjectAlternativeNameExtension)
  const bc = c.getExtension(x509.BasicConstraintsExtension)
  const nodeCert = new NodeX509(pem)
  const pub = nodeCert.publicKey
  return {
    file,
    name,
    ...(member ? {member} : {}),
    subject: c.subject,
    issuer: c.issuer,
    serial: c.serialNumber,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    keyAlgorithm:
      keyAlgorithmOf(pub) ?? `${pub.asymmetricKeyType}-${pub.asymmetricKeyDetails?.modulusLength ?? pub.asymmetricKeyDetails?.namedCurve}`,
    sans: (san?.names.toJSON() ?? []).map((n) => `${n.type === 'dns' ? 'DNS' : n.type === 'ip' ? 'IP' : n.type}:${n.value}`),
    isCA: bc?.ca ?? false,
  }
}
