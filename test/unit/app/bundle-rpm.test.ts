/**
 * The pure parts of the RHEL family's bundle: rpm file names, dnf 4's messages as they read on a
 * refusal (the texts are dnf 4.14's and librepo's, as the integration test's broken mirrors make
 * them), the `[OS=]VALUE` flags, and the CNI manifests a bundle (served without a token) must not hold.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {BundleError, bundleMessage, manifestSecret, perOs, withoutCredentials} from '../../../src/app/bundle/index.js'
import {dnfFailure, dnfRefusal, parseRpmFileName, unmatchedRequests} from '../../../src/app/bundle/rpm.js'

describe('rpm file names', () => {
  it('splits name, version-release and arch from the right', () => {
    assert.deepEqual(parseRpmFileName('kubelet-1.34.2-150500.1.1.x86_64.rpm'), {
      name: 'kubelet',
      version: '1.34.2-150500.1.1',
      arch: 'x86_64',
    })
    assert.deepEqual(parseRpmFileName('iproute-tc-6.2.0-6.el9.x86_64.rpm'), {name: 'iproute-tc', version: '6.2.0-6.el9', arch: 'x86_64'})
    assert.deepEqual(parseRpmFileName('python3-libs-3.9.18-3.el9.noarch.rpm'), {
      name: 'python3-libs',
      version: '3.9.18-3.el9',
      arch: 'noarch',
    })
    assert.equal(parseRpmFileName('README'), undefined)
  })
})

describe("dnf's refusals", () => {
  it('a request nothing provides', () => {
    const out = 'No match for argument: haproxy\nError: Unable to find a match: haproxy\n'
    assert.equal(dnfFailure(out), 'no-match')
    assert.deepEqual(unmatchedRequests(out), ['haproxy'])
  })

  it('a package signed by a key the repository does not list', () => {
    const out = `The GPG keys listed for the "os-appstream" repository are already installed but they are not correct for this package.
Check that the correct key URLs are configured for this repository.. Failing package is: socat-1.7.4.1-5.el9.x86_64
 GPG Keys are configured as: file:///tmp/x/keys/os-appstream-0.asc
Error: GPG check FAILED`
    assert.equal(dnfFailure(out), 'signature')
    const r = dnfRefusal(out)
    assert.equal(r.pkg, 'socat-1.7.4.1-5.el9.x86_64')
    assert.equal(r.repository, 'os-appstream')
  })

  it('an unsigned package', () => {
    const out = 'Package baz-1.0-1.x86_64.rpm is not signed\nError: GPG check FAILED\n'
    assert.equal(dnfFailure(out), 'signature')
    assert.equal(dnfRefusal(out).pkg, 'baz-1.0-1.x86_64')
  })

  it("a package whose bytes differ from the metadata's checksum", () => {
    const out = `[MIRROR] keepalived-2.2.8-4.el9.x86_64.rpm: Downloading successful, but checksum doesn't match. Calculated: 1ab(sha256)  Expected: 2cd(sha256)
Error: Error downloading packages:
  keepalived-2.2.8-4.el9.x86_64: Cannot download, all mirrors were already tried without success`
    assert.equal(dnfFailure(out), 'checksum')
    const r = dnfRefusal(out)
    assert.equal(r.pkg, 'keepalived-2.2.8-4.el9.x86_64')
    assert.match(r.line ?? '', /^keepalived-2\.2\.8-4\.el9\.x86_64\.rpm: Downloading successful, but checksum doesn't match/)
  })

  it('anything else is other', () => {
    assert.equal(dnfFailure("Curl error (7): Couldn't connect to server"), 'other')
  })
})

describe('[OS=]VALUE flags', () => {
  const oses = ['debian-12', 'almalinux-9']
  it('OS=VALUE for that OS, a bare value for every other', () => {
    const of = perOs(['http://deb.debian.org/debian', 'almalinux-9=https://repo.almalinux.org/almalinux/9'], 'os-mirror', oses)
    assert.deepEqual(of('almalinux-9'), ['https://repo.almalinux.org/almalinux/9'])
    assert.deepEqual(of('debian-12'), ['http://deb.debian.org/debian'])
  })
  it('a URL with = in it stays a URL', () => {
    assert.deepEqual(perOs(['http://m.lan/el?x=1'], 'os-mirror', oses)('almalinux-9'), ['http://m.lan/el?x=1'])
  })
  it('an OS no node runs is refused (NG1117)', () => {
    assert.throws(
      () => perOs(['rocky-9=https://dl.rockylinux.org/pub/rocky/9'], 'os-mirror', oses),
      (e: unknown) => e instanceof BundleError && e.code === 'NG1117' && /--os-mirror rocky-9=/.test(e.message),
    )
  })
})

describe('a CNI manifest with a Secret stays out of the bundle', () => {
  it('finds a Secret among the documents, by name', () => {
    const manifest = `apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Secret
metadata: {name: hubble-ca, namespace: kube-system}
data: {ca.key: c2VjcmV0}
`
    assert.equal(manifestSecret(manifest), 'hubble-ca')
    assert.equal(manifestSecret('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {kind: Secret}\n'), undefined)
  })
})

describe('manifest.json records no login', () => {
  it("a mirror's user and password are dropped, other URLs stay as they are", () => {
    assert.equal(withoutCredentials('https://user:s3cret@mirror.lan/almalinux/9'), 'https://mirror.lan/almalinux/9')
    assert.equal(withoutCredentials('https://pkgs.k8s.io/core:/stable:/v1.34/rpm/'), 'https://pkgs.k8s.io/core:/stable:/v1.34/rpm/')
    assert.equal(withoutCredentials('kube-flannel.yml'), 'kube-flannel.yml')
  })
  it('nor does any message', () => {
    assert.equal(
      bundleMessage('NG1103', {url: 'https://user:s3cret@mirror.lan/almalinux/9/BaseOS/x86_64/os/repodata/repomd.xml', reason: 'HTTP 404'}),
      'cannot download https://mirror.lan/almalinux/9/BaseOS/x86_64/os/repodata/repomd.xml: HTTP 404',
    )
  })
})
