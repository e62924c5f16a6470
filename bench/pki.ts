/**
 * How long issuing the quickstart's PKI takes, per key algorithm: nodegen in process (WebCrypto
 * key generation, in parallel on libuv's threads, + @peculiar/x509 signing); the same with the keys
 * already generated (signing and encoding alone); and the same set made with the openssl CLI, one
 * process per step, for comparison (three CAs, the service-account key, admin.conf's client
 * certificate). Key generation dominates RSA; its time varies a lot from run to run.
 *
 *   npx tsx bench/pki.ts [runs]        (default 3 runs per algorithm; the median is shown)
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {table} from '../src/app/table.js'
import {type CryptoKeyPair, issueClusterPki, KEY_ALGORITHM_INFO, renderStateFiles, systemPkiContext} from '../src/pki/index.js'
import {type KeyAlgorithm, loadProfile} from '../src/profile/index.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const RUNS = Number(process.argv[2] ?? 3)
const ALGORITHMS = Object.keys(KEY_ALGORITHM_INFO) as KeyAlgorithm[]

const profile = loadProfile(readFileSync(path.join(ROOT, 'profiles', 'quickstart.yaml')), 'quickstart.yaml').cluster
if (!profile) throw new Error('profiles/quickstart.yaml does not load')

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

/** Wall time of issuing the set with real key generation, and with keys generated beforehand. */
async function nodegen(alg: KeyAlgorithm): Promise<{total: number; signing: number}> {
  const cluster = {...profile!, pki: {...profile!.pki, keyAlgorithm: alg}}
  const real = systemPkiContext()
  const t0 = performance.now()
  const pki = await issueClusterPki(cluster, real)
  renderStateFiles(cluster, pki, real.now, undefined)
  const total = performance.now() - t0

  const ready = await Promise.all(Array.from({length: 5}, () => real.generateKey(alg)))
  let i = 0
  const pregenerated = {...real, generateKey: async () => ready[i++ % ready.length] as CryptoKeyPair}
  const t1 = performance.now()
  renderStateFiles(cluster, await issueClusterPki(cluster, pregenerated), real.now, undefined)
  return {total, signing: performance.now() - t1}
}

function opensslAvailable(): boolean {
  return spawnSync('openssl', ['version']).status === 0
}

/** The same five keys and four certificates with the openssl CLI (one process per step). */
function openssl(alg: KeyAlgorithm): number {
  const info = KEY_ALGORITHM_INFO[alg]
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nodegen-bench-'))
  const keyArgs =
    info.kind === 'rsa'
      ? ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${info.bits}`]
      : ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${info.curve}`]
  const sh = (args: string[]) => {
    const r = spawnSync('openssl', args, {cwd: dir})
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`)
  }
  const ext = (name: string, body: string) => writeFileSync(path.join(dir, name), body)
  ext(
    'ca.ext',
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyEncipherment,keyCertSign\nsubjectKeyIdentifier=hash\n',
  )
  ext(
    'client.ext',
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\nauthorityKeyIdentifier=keyid\n',
  )
  const t0 = performance.now()
  for (const [name, cn] of [
    ['ca', 'kubernetes'],
    ['front-proxy-ca', 'front-proxy-ca'],
    ['etcd-ca', 'etcd-ca'],
  ]) {
    sh(['genpkey', ...keyArgs, '-out', `${name}.key`])
    sh([
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-subj',
      `/CN=${cn}`,
      '-days',
      '3650',
      '-sha256',
      '-addext',
      `subjectAltName=DNS:${cn}`,
      '-out',
      `${name}.crt`,
    ])
  }
  sh(['genpkey', ...keyArgs, '-out', 'sa.key'])
  sh(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'])
  sh(['genpkey', ...keyArgs, '-out', 'admin.key'])
  sh(['req', '-new', '-key', 'admin.key', '-subj', '/O=kubeadm:cluster-admins/CN=kubernetes-admin', '-out', 'admin.csr'])
  sh([
    'x509',
    '-req',
    '-in',
    'admin.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '365',
    '-sha256',
    '-extfile',
    'client.ext',
    '-out',
    'admin.crt',
  ])
  const total = performance.now() - t0
  rmSync(dir, {recursive: true, force: true})
  return total
}

const withOpenssl = opensslAvailable()
const rows: Array<Array<string>> = []
for (const alg of ALGORITHMS) {
  const runs = []
  for (let i = 0; i < RUNS; i++) runs.push(await nodegen(alg))
  const ssl = withOpenssl ? Array.from({length: RUNS}, () => openssl(alg)) : []
  rows.push([
    alg,
    `${median(runs.map((r) => r.total)).toFixed(0)} ms`,
    `${median(runs.map((r) => r.signing)).toFixed(0)} ms`,
    withOpenssl ? `${median(ssl).toFixed(0)} ms` : 'n/a',
  ])
}
process.stdout.write(`quickstart PKI (3 CAs, sa, admin.conf client cert, init token); median of ${RUNS} runs\n\n`)
process.stdout.write(`${table(['ALGORITHM', 'NODEGEN', 'NODEGEN, KEYS READY', 'OPENSSL CLI'], rows)}\n`)
