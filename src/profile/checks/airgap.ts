/**
 * spec.airgap: the bundle's URL and pin, and, since an air-gapped node reaches no internet, every
 * other section's source left at an internet default. It reads the whole spec and the checked
 * nodes (their families decide which sources they use), so it runs last.
 */
import type {FieldPath, Report} from '../diagnostics.js'
import {imageMirrorOf, mirrorImage} from '../image-mirror.js'
import type {ClusterNode} from '../model.js'
import type {Profile} from '../schema.js'
import {isSafeUrl} from '../text.js'
import {checkUrl} from './fields.js'

/**
 * An air-gapped profile: the bundle's URL and pin, and every source a node would take from the
 * internet by default refused, naming the field that points it elsewhere. Returns the normalised
 * settings (the bundle URL ending in `/`, the pin in lowercase).
 */
export function checkAirgap(report: Report, s: Profile['spec'], nodes: ClusterNode[]): {bundle?: string; sha256?: string} {
  const spec: FieldPath = ['spec']
  const path: FieldPath = [...spec, 'airgap']
  const a = s.airgap ?? {}
  if (a.bundle !== undefined) checkUrl(report, [...path, 'bundle'], a.bundle)
  // Nodes append paths to the bundle's URL (SHA256SUMS, os/<os>/, images/…): a query or fragment
  // would end up before them.
  if (a.bundle !== undefined && isSafeUrl(a.bundle) && /[?#]/.test(a.bundle))
    report.error([...path, 'bundle'], 'NG0301', {
      value: a.bundle,
      what: 'bundle URL',
      why: 'paths are appended to it, so it takes no query (?) or fragment (#)',
    })
  if (a.sha256 !== undefined && !/^[0-9A-Fa-f]{64}$/.test(a.sha256))
    report.error([...path, 'sha256'], 'NG0301', {value: a.sha256, what: 'SHA-256 digest', why: 'it must be 64 hexadecimal digits'})
  const bundle = a.bundle !== undefined ? `${a.bundle.replace(/\/+$/, '')}/` : undefined
  const internet = (field: FieldPath, what: string, source: string, fix: string) =>
    report.error([...spec, ...field], 'NG0429', {what, source, fix})
  const families = new Set(nodes.map((n) => n.family))
  if (s.containerRuntime.type === 'cri-o' && bundle) report.error([...spec, 'containerRuntime', 'type'], 'NG0430')
  if (!bundle) {
    if (s.kubernetes.packageRepository === undefined && (families.has('rhel') || families.has('debian')))
      internet(
        ['kubernetes', 'packageRepository'],
        'kubelet, kubeadm and kubectl',
        'https://pkgs.k8s.io',
        'set spec.airgap.bundle or a mirror',
      )
    if (
      s.containerRuntime.type === 'containerd' &&
      (s.containerRuntime.source ?? 'docker') === 'docker' &&
      !s.containerRuntime.dockerRepository
    )
      internet(
        ['containerRuntime', 'dockerRepository'],
        'containerd.io',
        'https://download.docker.com',
        'set spec.airgap.bundle or a mirror',
      )
    if (s.containerRuntime.type === 'cri-o' && !s.containerRuntime.crioRepository)
      internet(['containerRuntime', 'crioRepository'], 'CRI-O', 'download.opensuse.org', 'set a mirror')
  }
  // Every node imports its images from the bundle (bundle.sh with ctr, Flatcar's included).
  const imagesFromBundle = bundle !== undefined
  const imageFix = (what: string) => `set spec.airgap.bundle or ${what}`
  if (!imagesFromBundle && s.kubernetes.imageRepository === 'registry.k8s.io')
    internet(['kubernetes', 'imageRepository'], 'the control-plane images', 'registry.k8s.io', imageFix('a registry mirror'))
  if (s.networking.cni.type !== 'none' && s.networking.cni.manifestFile === undefined && s.networking.cni.manifestUrl === undefined)
    internet(
      ['networking', 'cni'],
      "the CNI's manifest",
      'its release on GitHub',
      'set manifestFile (the manifest travels in the seed) or a manifestUrl on your network',
    )
  const kubeVipImage = mirrorImage(s.loadBalancer.kubeVipImage, imageMirrorOf(s.kubernetes.imageRepository, s.kubernetes.imageMirrors))
  if (s.loadBalancer.type === 'kube-vip' && !imagesFromBundle && kubeVipImage.startsWith('ghcr.io/'))
    internet(['loadBalancer', 'kubeVipImage'], 'the kube-vip image', 'ghcr.io', imageFix('a mirrored image'))
  // With a bundle the sysext comes from its sysext/ directory (the normalised sysextRepository).
  if (families.has('flatcar') && s.kubernetes.sysextRepository === undefined && !bundle)
    internet(
      ['kubernetes', 'sysextRepository'],
      "Flatcar's Kubernetes sysext image",
      'https://extensions.flatcar.org',
      'set spec.airgap.bundle or a mirror',
    )
  return {...(bundle ? {bundle} : {}), ...(a.sha256 ? {sha256: a.sha256.toLowerCase()} : {})}
}
