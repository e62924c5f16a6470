/**
 * Private-key encodings. In the clear, keys are written the way kubeadm writes them (PKCS#1
 * `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`), so a file copied to a node is what kubeadm would have
 * made. At rest in an encrypted state they are encrypted PKCS#8 (AES-256-CBC) whose PEM passphrase
 * is the state key (see encryption.ts), which `openssl pkey -passin` also reads.
 */
import {createPrivateKey, createPublicKey, KeyObject, webcrypto} from 'node:crypto'
import type {KeyAlgorithm} from '../profile/index.js'
import {KEY_ALGORITHM_INFO} from './certs.js'

type CryptoKey = webcrypto.CryptoKey

const ENCRYPTED_HEADER = '-----BEGIN ENCRYPTED PRIVATE KEY-----'

export function isEncryptedPem(pem: string): boolean {
  return pem.includes(ENCRYPTED_HEADER)
}

/** The key as kubeadm writes it: PKCS#1 for RSA, SEC1 for ECDSA. */
export function kubeadmKeyPem(key: KeyObject): string {
  const type = key.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'sec1'
  return key.export({type, format: 'pem'}).toString()
}

/** The key for the state dir: kubeadm's format, or encrypted PKCS#8 when a passphrase is given. */
export function encodePrivateKey(key: KeyObject, passphrase: string | undefined): string {
  if (passphrase === undefined) return kubeadmKeyPem(key)
  return key.export({type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase}).toString()
}

export type DecodeFailure = 'missing-passphrase' | 'bad-passphrase' | 'invalid'

export class KeyDecodeError extends Error {
  constructor(readonly reason: DecodeFailure) {
    super(reason)
    this.name = 'KeyDecodeError'
  }
}

/** Reads a private key PEM, decrypting it when it is encrypted. */
export function decodePrivateKey(pem: string, passphrase: string | undefined): KeyObject {
  const encrypted = isEncryptedPem(pem)
  if (encrypted && passphrase === undefined) throw new KeyDecodeError('missing-passphrase')
  try {
    return encrypted ? createPrivateKey({key: pem, format: 'pem', passphrase}) : createPrivateKey({key: pem, format: 'pem'})
  } catch {
    throw new KeyDecodeError(encrypted ? 'bad-passphrase' : 'invalid')
  }
}

/** The public half as a PKIX `PUBLIC KEY` PEM (kubeadm's sa.pub). */
export function publicKeyPem(key: KeyObject): string {
  return createPublicKey(key).export({type: 'spki', format: 'pem'}).toString()
}

/** Which of the profile's algorithms a key is, or undefined for anything else. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  const d = key.asymmetricKeyDetails
  if (key.asymmetricKeyType === 'rsa') {
    const alg = `RSA-${d?.modulusLength}`
    return alg in KEY_ALGORITHM_INFO ? (alg as KeyAlgorithm) : undefined
  }
  if (key.asymmetricKeyType === 'ec') {
    if (d?.namedCurve === 'prime256v1') return 'ECDSA-P256'
    if (d?.namedCurve === 'secp384r1') return 'ECDSA-P384'
  }
  return undefined
}

/** WebCrypto parameters to import a key of the algorithm for signing. */
export function webCryptoImportParams(alg: KeyAlgorithm): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams {
  const info = KEY_ALGORITHM_INFO[alg]
  return info.kind === 'rsa' ? {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'} : {name: 'ECDSA', namedCurve: info.curve as string}
}

/** WebCrypto parameters to generate a key of the algorithm. */
export function webCryptoGenParams(alg: KeyAlgorithm): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  const info = KEY_ALGORITHM_INFO[alg]
  return info.kind === 'rsa'
    ? {name: 'RSASSA-PKCS1-v1_5', modulusLength: info.bits as number, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256'}
    : {name: 'ECDSA', namedCurve: info.curve as string}
}

/** A WebCrypto signing key for a private KeyObject (Node 20 has no KeyObject.toCryptoKey). */
export async function signingKey(key: KeyObject): Promise<CryptoKey> {
  const alg = keyAlgorithmOf(key)
  if (!alg) throw new KeyDecodeError('invalid')
  const der = key.export({type: 'pkcs8', format: 'der'})
  return webcrypto.subtle.importKey('pkcs8', der, webCryptoImportParams(alg), false, ['sign'])
}

/** The KeyObject of an extractable WebCrypto key. */
export function keyObjectOf(key: CryptoKey): KeyObject {
  return KeyObject.from(key)
}
