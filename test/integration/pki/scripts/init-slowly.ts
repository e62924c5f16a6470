/**
 * `pki init` with a slow writer, for the crash test: the same loadOrCreateState the CLI runs, with
 * a pause after each file so a SIGKILL can land in the middle of the writing. Prints `writing` when
 * the first file is written and `done` at the end.
 *
 *   node --import tsx init-slowly.ts <state dir> [<extra etcd members>]
 */
import {loadOrCreateState} from '../../../../src/pki/index.js'
import {fixtureCluster, fixturePkiContext, withKeyAlgorithm} from '../../../support/pki-fixture.js'

const [dir, extra] = process.argv.slice(2)
if (!dir) throw new Error('usage: init-slowly.ts <state dir> [<extra etcd members>]')
// ECDSA keys: key generation is not what this test is about, and RSA would only make it slower.
const base = withKeyAlgorithm(fixtureCluster('ha-external-etcd'), 'ECDSA-P256')
const template = base.nodes.find((n) => n.role === 'etcd')!
const added = Array.from({length: Number(extra ?? 0)}, (_, i) => ({...template, name: `etcd-extra-${i + 1}`, ip: `10.0.1.${101 + i}`}))
const cluster = {...base, nodes: [...base.nodes, ...added]}
let announced = false
await loadOrCreateState(dir, cluster, fixturePkiContext({seed: `kill-${process.pid}`}), {
  onWrite: async () => {
    if (!announced) {
      announced = true
      process.stdout.write('writing\n')
    }
    await new Promise((r) => setTimeout(r, 10))
  },
})
process.stdout.write('done\n')
