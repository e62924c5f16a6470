/**
 * Where a node's packages come from: the Kubernetes and CRI-O package repositories as URL templates,
 * and the public mirrors whose layouts are known by name. One table, read by validation (which
 * normalises a profile's value into a template) and by the planners (which expand it per node).
 *
 * A template names the Kubernetes stream and the package format with placeholders:
 * `{channel}` (`v1.34`), `{minor}` (`1.34`) and `{format}` (`rpm` or `deb`). Mirrors do not all keep
 * pkgs.k8s.io's layout: Aliyun's serves `…/kubernetes-new/core/stable/v1.34/rpm/`, without the
 * colons of `core:/stable:/`, so joining a mirror's prefix with the upstream path breaks there.
 */

export type RepositoryKind = 'kubernetes' | 'cri-o'
export type PackageFormat = 'rpm' | 'deb'

/** The placeholders a repository template may use. */
export const REPOSITORY_PLACEHOLDERS = Object.freeze(['channel', 'minor', 'format'] as const)

/**
 * Known layouts, by name. Sources: pkgs.k8s.io and CRI-O's install documentation for the upstream
 * ones; for the mirrors, their published repository paths as the guides this tool replaces use them
 * (`https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.28/rpm/`,
 * `https://mirrors.tuna.tsinghua.edu.cn/kubernetes/core:/stable:/v1.28/deb/`,
 * `https://mirrors.ustc.edu.cn/kubernetes/core:/stable:/v1.30/rpm/`).
 */
export const PACKAGE_MIRRORS: Readonly<Record<RepositoryKind, Readonly<Record<string, string>>>> = Object.freeze({
  kubernetes: Object.freeze({
    upstream: 'https://pkgs.k8s.io/core:/stable:/{channel}/{format}/',
    aliyun: 'https://mirrors.aliyun.com/kubernetes-new/core/stable/{channel}/{format}/',
    tuna: 'https://mirrors.tuna.tsinghua.edu.cn/kubernetes/core:/stable:/{channel}/{format}/',
    ustc: 'https://mirrors.ustc.edu.cn/kubernetes/core:/stable:/{channel}/{format}/',
  }),
  'cri-o': Object.freeze({
    upstream: 'https://download.opensuse.org/repositories/isv:/cri-o:/stable:/{channel}/{format}/',
  }),
})

/** What a plain URL (no placeholder) means: a prefix under which the upstream layout continues. */
const PREFIX_LAYOUT: Readonly<Record<RepositoryKind, string>> = Object.freeze({
  kubernetes: '/core:/stable:/{channel}/{format}/',
  'cri-o': '/{channel}/{format}/',
})

/** Placeholders in a value that are not known, in order of appearance. */
export function unknownPlaceholders(value: string): string[] {
  return [...value.matchAll(/\{([^{}]*)\}/g)]
    .map((m) => m[1] ?? '')
    .filter((p) => !(REPOSITORY_PLACEHOLDERS as readonly string[]).includes(p))
}

export function isTemplate(value: string): boolean {
  return /\{[^{}]*\}/.test(value)
}

/**
 * The template a profile's value stands for: a known mirror's name, a template as written, or a
 * prefix URL followed by the upstream layout. Undefined means upstream.
 */
export function repositoryTemplate(kind: RepositoryKind, value: string | undefined): string {
  if (value === undefined) return PACKAGE_MIRRORS[kind].upstream as string
  const named = PACKAGE_MIRRORS[kind][value]
  if (named !== undefined) return named
  if (isTemplate(value)) return value
  return `${value.replace(/\/+$/, '')}${PREFIX_LAYOUT[kind]}`
}

/** The repository URL for one stream and format, always ending in `/`. */
export function expandRepository(template: string, channel: string, format: PackageFormat): string {
  const url = template.replaceAll('{channel}', channel).replaceAll('{minor}', channel.replace(/^v/, '')).replaceAll('{format}', format)
  return url.endsWith('/') ? url : `${url}/`
}
