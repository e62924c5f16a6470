import type {NodePlan} from '../../src/plan/types.js'

/** A small hand-written NodePlan for emitter tests: emitters must translate, whatever the planner. */
export function fixturePlan(over: Partial<NodePlan> = {}): NodePlan {
  return {
    cluster: 'demo',
    node: 'cp-1',
    role: 'control-plane',
    ordinal: 0,
    os: 'almalinux-9',
    family: 'rhel',
    format: 'cloud-init',
    source: {profile: 'profiles/demo.yaml', path: ['spec', 'nodes', 0]},
    hostname: 'cp-1',
    network: {
      interface: 'eth0',
      mac: '52:54:00:00:00:01',
      address: '10.0.0.10',
      prefix: 24,
      gateway: '10.0.0.1',
      dns: ['10.0.0.1'],
      search: ['example.com'],
    },
    users: [
      {
        name: 'ops',
        sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0Zb5Y1bqvQm1n3h3rPj8m0Cz4i3Yk1m8c5f3n2x7Q ops@x'],
        sudo: true,
        groups: ['wheel'],
        shell: '/bin/bash',
      },
    ],
    files: [
      {
        path: '/etc/kubernetes/pki/ca.key',
        content: '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n',
        mode: 0o600,
        owner: 'root:root',
        secret: true,
        origin: 'pki',
      },
      {
        path: '/etc/nodegen/bootstrap.env',
        content: 'NODE_NAME=cp-1\nA=yes\nB=0600\nC=on\n',
        mode: 0o600,
        owner: 'root:root',
        secret: false,
        origin: 'bootstrap',
      },
      {path: '/etc/nodegen/yaml-1.1-traps', content: 'yes', mode: 0o644, owner: 'root:root', secret: false, origin: 'test'},
      {
        path: '/home/ops/.config/x',
        content: 'owned by ops\n',
        mode: 0o640,
        owner: 'ops:ops',
        secret: false,
        origin: 'profile:spec.files[0]',
      },
      {
        path: '/usr/local/lib/nodegen/bootstrap.sh',
        content: '#!/bin/bash\necho "hi: $1"\n',
        mode: 0o755,
        owner: 'root:root',
        secret: false,
        origin: 'bootstrap',
      },
    ],
    links: [],
    directories: [{path: '/var/lib/nodegen', mode: 0o700}],
    units: [
      {
        name: 'containerd.service',
        enabled: true,
        dropIns: [{name: '10-proxy.conf', content: '[Service]\nEnvironment="HTTP_PROXY=http://p:3128"\n'}],
      },
      {
        name: 'nodegen-bootstrap.service',
        enabled: true,
        dropIns: [],
        content:
          '[Unit]\nDescription=x\n[Service]\nType=oneshot\nExecStart=/usr/local/lib/nodegen/bootstrap.sh\n[Install]\nWantedBy=multi-user.target\n',
      },
    ],
    bootstrapUnit: 'nodegen-bootstrap.service',
    sizeBudget: Number.POSITIVE_INFINITY,
    ...over,
  }
}
