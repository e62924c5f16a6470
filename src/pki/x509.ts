/**
 * The one place that loads `@peculiar/x509`. Import it from here, never directly: the library (2.x)
 * registers its classes with tsyringe, which refuses to load without a Reflect metadata polyfill.
 * `reflect-metadata` is not a dependency and tsyringe only reads and writes plain metadata, so
 * reflect-shim.ts installs the few functions it calls (only when no polyfill is present). ES modules
 * evaluate their imports in order, so the shim is in place before the library loads.
 */
import './reflect-shim.js'
import {webcrypto} from 'node:crypto'
import * as x509 from '@peculiar/x509'

// Sign and hash with node:crypto's OpenSSL-backed WebCrypto.
x509.cryptoProvider.set(webcrypto as unknown as Crypto)

export {x509}
