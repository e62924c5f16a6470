/**
 * The subset of the Reflect metadata API (`reflect-metadata`) that tsyringe, a dependency of
 * `@peculiar/x509`, calls at load time. Installed only when no polyfill is present; see x509.ts.
 */
type Target = object
type MetadataReflect = typeof Reflect & {
  getMetadata?: (key: unknown, target: Target) => unknown
  getOwnMetadata?: (key: unknown, target: Target) => unknown
  hasMetadata?: (key: unknown, target: Target) => boolean
  hasOwnMetadata?: (key: unknown, target: Target) => boolean
  defineMetadata?: (key: unknown, value: unknown, target: Target) => void
  metadata?: (key: unknown, value: unknown) => (target: Target) => void
}

const R = Reflect as MetadataReflect
if (typeof R.getMetadata !== 'function') {
  const store = new WeakMap<Target, Map<unknown, unknown>>()
  R.getOwnMetadata = (key, target) => store.get(target)?.get(key)
  R.hasOwnMetadata = (key, target) => store.get(target)?.has(key) ?? false
  R.getMetadata = (key, target) => {
    for (let o: Target | null = target; o; o = Object.getPrototypeOf(o) as Target | null) {
      const m = store.get(o)
      if (m?.has(key)) return m.get(key)
    }
    return undefined
  }
  R.hasMetadata = (key, target) => R.getMetadata?.(key, target) !== undefined
  R.defineMetadata = (key, value, target) => {
    let m = store.get(target)
    if (!m) {
      m = new Map()
      store.set(target, m)
    }
    m.set(key, value)
  }
  R.metadata = (key, value) => (target) => R.defineMetadata?.(key, value, target)
}
