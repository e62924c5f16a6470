/**
 * Runs the real bootstrap program in temporary roots against recording stand-ins and a fake API
 * endpoint / etcd (an HTTPS server with a certificate from a test CA), so the protocol's ordering,
 * waits, retries and reports can be checked without Kubernetes.
 */
import {spawn} from 'node:child_process'
import {chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type {NodePlan} from '../../src/plan/types.js'
import {REPO_ROOT} from './profiles.js'
import {run} from './tools.js'

export interface TestCa {
  dir: string
  caCert: string
  caKey: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
}

/** A CA, a server certificate for the given IPs and a client certificate, made with openssl. */
export function makeTestCa(ips: string[]): TestCa {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nodegen-ca-'))
  const p = (f: string) => path.join(dir, f)
  run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-subj',
    '/CN=test-ca',
    '-days',
    '2',
  ])
  writeFileSync(p('san.ext'), `subjectAltName=${ips.map((i) => `IP:${i}`).join(',')}\nextendedKeyUsage=serverAuth\n`)
  run('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
    '-subj',
    '/CN=fake-endpoint',
  ])
  run('openssl', [
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('server.crt'),
    '-days',
    '2',
    '-extfile',
    p('san.ext'),
  ])
  writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n')
  run('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    p('client.key'),
    '-out',
    p('client.csr'),
    '-subj',
    '/CN=probe',
  ])
  run('openssl', [
    'x509',
    '-req',
    '-in',
    p('client.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('client.crt'),
    '-days',
    '2',
    '-extfile',
    p('client.ext'),
  ])
  const r = (f: string) => readFileSync(p(f), 'utf8')
  return {
    dir,
    caCert: r('ca.crt'),
    caKey: r('ca.key'),
    serverCert: r('server.crt'),
    serverKey: r('server.key'),
    clientCert: r('client.crt'),
    clientKey: r('client.key'),
  }
}

/** The fake API endpoint and etcd: /readyz once kubeadm init ran; the member list grows with joins. */
export class FakeCluster {
  ready = false
  members: string[] = []
  /** The members' IPs (their peer URLs are https://<ip>:2380, as kubeadm's), by name. */
  readonly memberIps = new Map<string, string>()
  readonly events: string[] = []
  /** Member-list requests still to refuse (503), as a busy etcd that does not answer in time. */
  silentMemberLists = 0
  private servers: https.Server[] = []

  constructor(private readonly ca: TestCa) {}

  async listen(host: string, port: number): Promise<number> {
    const server = https.createServer({cert: this.ca.serverCert, key: this.ca.serverKey}, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://x')
      if (url.pathname === '/readyz') {
        res.writeHead(this.ready ? 200 : 503).end(this.ready ? 'ok' : 'not ready')
      } else if (url.pathname === '/health') {
        res.writeHead(200).end('{"health":"true","reason":""}')
      } else if (url.pathname === '/v3/cluster/member/list' && this.silentMemberLists > 0) {
        this.silentMemberLists--
        res.writeHead(503).end('{"error":"etcdserver: request timed out"}')
      } else if (url.pathname === '/v3/cluster/member/list') {
        const members = this.members.flatMap((m, i) => {
          if (m === '') return []
          const host = this.memberIps.get(m) ?? m.replace(/^(added|learner):/, '')
          if (m.startsWith('learner:')) return [`{"ID":"${i + 1}","peerURLs":["https://${host}:2380"],"isLearner":true}`]
          // A member added but not started yet has no name and no client URLs, as etcd lists it.
          if (/^(unstarted|added):/.test(m)) return [`{"ID":"${i + 1}","peerURLs":["https://${host}:2380"]}`]
          return [`{"ID":"${i + 1}","name":"${m}","peerURLs":["https://${host}:2380"],"clientURLs":["https://${host}:2379"]}`]
        })
        res
          .writeHead(200, {'content-type': 'application/json'})
          .end(`{"header":{"cluster_id":"1","member_id":"1","revision":"1","raft_term":"2"},"members":[${members.join(',')}]}`)
      } else if (url.pathname === '/test/ready') {
        this.ready = true
        this.events.push('ready')
        res.writeHead(200).end()
      } else if (url.pathname === '/test/etcd-silent') {
        this.silentMemberLists = Number(url.searchParams.get('n') ?? '1')
        this.events.push(`etcd silent for ${this.silentMemberLists} member lists`)
        res.writeHead(200).end()
      } else if (url.pathname === '/test/learner') {
        // A learner added by a join that then failed: not started, no name, isLearner.
        this.members.push(`learner:${url.searchParams.get('ip') ?? '?'}`)
        this.events.push(`learner ${url.searchParams.get('ip')}`)
        res.writeHead(200).end()
      } else if (url.pathname === '/test/member') {
        const name = url.searchParams.get('name') ?? '?'
        const ip = url.searchParams.get('ip')
        this.members.push(name)
        if (ip) this.memberIps.set(name, ip)
        this.events.push(`member ${name}`)
        res.writeHead(200).end()
      } else if (url.pathname === '/v3/cluster/member/add' && req.method === 'POST') {
        let body = ''
        req.on('data', (d) => {
          body += d
        })
        req.on('end', () => {
          const peer = ((JSON.parse(body || '{}') as {peerURLs?: string[]}).peerURLs ?? [])[0] ?? ''
          // As etcd: an added member has no name until it starts; here it is named after its IP.
          const ip = /^https:\/\/([^:]+):2380$/.exec(peer)?.[1]
          if (!ip) return res.writeHead(400).end('{"error":"bad peer URL"}')
          this.members.push(`added:${ip}`)
          this.events.push(`add ${ip}`)
          res.writeHead(200).end('{}')
        })
        return
      } else if (url.pathname === '/v3/cluster/member/remove' && req.method === 'POST') {
        let body = ''
        req.on('data', (d) => {
          body += d
        })
        req.on('end', () => {
          const id = Number((JSON.parse(body || '{}') as {ID?: string}).ID)
          const name = this.members[id - 1]
          if (!name) return res.writeHead(404).end('{"error":"etcdserver: member not found"}')
          // IDs are positions here: a removed member leaves a hole, so the others keep theirs.
          this.members[id - 1] = ''
          this.events.push(`remove ${name}`)
          res.writeHead(200).end('{}')
        })
        return
      } else {
        res.writeHead(404).end()
      }
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve())
    })
    this.servers.push(server)
    return (server.address() as AddressInfo).port
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
    for (const s of this.servers) s.closeAllConnections()
  }
}

/** Writes a plan's files into a temporary root with their modes; returns the root. */
export function materialise(plan: NodePlan, parent: string): string {
  const root = path.join(parent, plan.node)
  for (const f of plan.files) {
    const p = path.join(root, f.path)
    mkdirSync(path.dirname(p), {recursive: true})
    writeFileSync(p, f.content)
    chmodSync(p, f.mode)
  }
  for (const u of plan.units) {
    if (u.content === undefined) continue
    const p = path.join(root, 'etc/systemd/system', u.name)
    mkdirSync(path.dirname(p), {recursive: true})
    writeFileSync(p, u.content)
  }
  mkdirSync(path.join(root, 'etc'), {recursive: true})
  writeFileSync(path.join(root, 'etc/hosts'), '127.0.0.1 localhost\n')
  writeFileSync(path.join(root, 'etc/fstab'), 'UUID=abc / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n')
  return root
}

/** A PATH directory with the stand-ins under every command name the bootstrap program runs. */
export function standinBin(parent: string): string {
  const bin = path.join(parent, 'bin')
  mkdirSync(bin, {recursive: true})
  const src = path.join(REPO_ROOT, 'test/fixtures/standins/standin.sh')
  for (const name of [
    'systemctl',
    'modprobe',
    'sysctl',
    'swapoff',
    'hostname',
    'hostnamectl',
    'getenforce',
    'setenforce',
    'setsebool',
    'firewall-cmd',
    'kubeadm',
    'kubectl',
    'dnf',
    'apt-get',
    'apt-mark',
  ]) {
    copyFileSync(src, path.join(bin, name))
    chmodSync(path.join(bin, name), 0o755)
  }
  return bin
}

export interface BootstrapRun {
  node: string
  code: number
  output: string
}

export function runBootstrap(root: string, env: Record<string, string>, timeoutMs = 90_000): Promise<BootstrapRun> {
  const node = path.basename(root)
  return new Promise((resolve) => {
    const child = spawn('bash', [path.join(root, 'usr/local/lib/nodegen/bootstrap.sh')], {
      env: {...process.env, NODEGEN_ROOT: root, NODEGEN_CONSOLE: '/dev/null', ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d) => {
      output += d
    })
    child.stderr.on('data', (d) => {
      output += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({node, code: code ?? -1, output})
    })
  })
}

export interface LogLine {
  time: number
  node: string
  call: string
}

export function readCallLog(file: string): LogLine[] {
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return []
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [t, node, call] = l.split('\t')
      return {time: Number(t), node: node ?? '', call: call ?? ''}
    })
    .sort((a, b) => a.time - b.time)
}

/**
 * What a Packer build's two uploads leave in the build VM: the tree's image/ in `work` (Packer's
 * /tmp/nodegen-image) and its scripts/ in `work`/scripts. Packer's upload does not keep modes:
 * bake.sh must make the scripts runnable itself, so everything is written 0644.
 */
export function uploadImageTree(tree: ReadonlyMap<string, {content: string}>, work: string): void {
  for (const [rel, f] of tree) {
    if (!rel.startsWith('image/') && !rel.startsWith('scripts/')) continue
    const p = path.join(work, rel.startsWith('image/') ? rel.slice('image/'.length) : rel)
    mkdirSync(path.dirname(p), {recursive: true})
    writeFileSync(p, f.content, {mode: 0o644})
  }
}
