/**
 * Problems with the state dir and the PKI in it. Every message lives in {@link PKI_CATALOGUE}; the
 * commands print `error NG09xx: <message>` and exit 1, never a stack trace.
 */

import {CodedError, fillTemplate, type Params} from '../errors.js'

export const PKI_CATALOGUE = Object.freeze({
  // 09xx: the state dir and its PKI
  NG0901: 'no PKI state in {dir}: run `nodegen pki init {profile}` first',
  NG0902:
    'the state in {dir} belongs to cluster "{stateCluster}", not "{cluster}": refusing to use or change it (pass --state for this cluster)',
  NG0903: '{dir} exists but is not a nodegen state (no state.json); refusing to write into it',
  NG0904: 'the state in {dir} is damaged: {reason}',
  NG0905: 'the private keys in {dir} are encrypted: set NODEGEN_PKI_PASSPHRASE',
  NG0906: 'NODEGEN_PKI_PASSPHRASE does not decrypt the private keys in {dir} ({file})',
  NG0907: 'the state in {dir} has schema version {version}; this nodegen reads version {supported}',
  NG0908: 'the state in {dir} was made for {stateTopology} etcd but the profile says {topology}: a cluster cannot change topology',
  NG0909: 'the state in {dir} is locked by process {pid} ({lock}); try again when it has finished',
  NG0910: '{value} is not a duration (like 30d, 720h, 1h30m)',
  NG0911: 'the state in {dir} has no certificates for etcd member {member}: run `nodegen pki init {profile}`',
  NG0912: 'cannot write the state in {dir}: {reason}',
  NG0913: 'the passphrase is too short: use at least {min} characters (a few words)',
  NG0914: 'cannot read the certificate the API server presents: {reason}',
} as const)

export type PkiCode = keyof typeof PKI_CATALOGUE

/** A PKI or state problem the user can act on; `message` is complete and printable. */
export class PkiError extends CodedError {
  declare readonly code: PkiCode

  constructor(code: PkiCode, params: Params) {
    super(code, formatPkiMessage(code, params), params)
    this.name = 'PkiError'
  }
}

export function formatPkiMessage(code: PkiCode, params: Params): string {
  return fillTemplate(PKI_CATALOGUE[code], params)
}
