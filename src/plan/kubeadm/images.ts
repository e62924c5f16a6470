/** The images kubeadm runs on control planes only, as `kubeadm config images list` names them. */
import type {Cluster} from '../../profile/index.js'
import {etcdImageTag} from '../etcd/versions.js'

/** kubeadm's default image repository (`imageRepository` unset). */
export const KUBEADM_DEFAULT_REPOSITORY = 'registry.k8s.io'

export interface KubeadmImage {
  component: string
  image: string
}

/** The static pods' images: the API server, controller manager and scheduler, and etcd when stacked. */
export function controlPlaneImages(cluster: Cluster): KubeadmImage[] {
  const repo = cluster.kubernetes.imageRepository
  const tag = `v${cluster.kubernetes.version}`
  const images = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((component) => ({
    component,
    image: `${repo}/${component}:${tag}`,
  }))
  if (cluster.topology === 'stacked') images.push({component: 'etcd', image: etcdImage(cluster)})
  return images
}

/** etcd's image at the tag kubeadm pins for the minor: stacked members and external ones alike run it. */
export function etcdImage(cluster: Cluster): string {
  return `${cluster.kubernetes.imageRepository}/etcd:${etcdImageTag(cluster.kubernetes.minor)}`
}

/** An image reference without its tag (`repo/name:tag` → `repo/name`). */
export function imageName(image: string): string {
  const colon = image.lastIndexOf(':')
  return colon > image.lastIndexOf('/') ? image.slice(0, colon) : image
}
