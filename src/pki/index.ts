/**
 * The cluster's PKI: kubeadm's certificate table, offline issuance, the state dir that keeps it,
 * and which node gets which file. Render calls {@link loadOrCreateState} ("the PKI state is created
 * on first render and reused after") and hands the secrets to the planners, which call
 * {@link secretFilesForNode}.
 */

export {
  CALENDAR_JSON,
  type Calendar,
  deriveWindowToken,
  loadOrCreateCalendar,
  rotateCalendar,
  type WindowToken,
  windowOf,
} from './calendar.js'
export {
  BOOTSTRAP_TOKEN_DEFAULTS,
  CAS,
  type CaId,
  type CaSpec,
  CERTIFICATE_BACKDATE_SECONDS,
  KEY_ALGORITHM_INFO,
  KEY_USAGES,
  LEAVES,
  type LeafId,
  type LeafSpec,
  SERVICE_ACCOUNT,
} from './certs.js'
export {generateKeyPair, PASSPHRASE_ENV, passphraseFrom, systemPkiContext} from './context.js'
export {NODE_PKI_DIR, type NodeSecretSummary, nodeSecretsSummary, secretFilesForNode} from './distribute.js'
export {MIN_PASSPHRASE_LENGTH} from './encryption.js'
export {formatPkiMessage, PKI_CATALOGUE, type PkiCode, PkiError} from './errors.js'
export {type Expiring, expirations} from './expiry.js'
export type {CertificateInfo} from './inspect.js'
export {caCertHash, type IssuedPki, issueClusterPki} from './issue.js'
export {buildKubeconfig, type KubeconfigSpec, serverUrl} from './kubeconfig.js'
export {loadOrCreateServeKey, SERVE_KEY} from './servekey.js'
export {type EncryptStateOptions, encryptState} from './store/encrypt.js'
export {inventoryState, listStateFiles, type StateInventory} from './store/inventory.js'
export {ADMIN_CONF, renderStateFiles, STATE_SCHEMA_VERSION, TOKENS_JSON} from './store/layout.js'
export {loadState, readStateInfo} from './store/read.js'
export {type CreateTokenOptions, createToken, type LoadOrCreateResult, loadOrCreateState, type StateOptions} from './store/write.js'
export {newBootstrapToken, parseWindow, redactToken, TOKEN_PATTERN} from './token.js'
export type {BootstrapToken, CertKeyPem, ClusterSecrets, CryptoKeyPair, NodeSecretFile, PkiContext, StateInfo} from './types.js'
