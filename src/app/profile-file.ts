/** The adapter between commands and the pure profile loader: finds and reads the profile file. */
import {readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {type BuildOptions, type Diagnostic, LIMITS, type LoadResult, loadProfile, Report} from '../profile/index.js'

/** The package's own directory (profiles/, schema/, packer/ live there). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** profiles/quickstart.yaml inside the package: what `render` uses with no profile argument. */
export const QUICKSTART_PROFILE = path.join(PACKAGE_ROOT, 'profiles', 'quickstart.yaml')

export interface LoadedProfile extends LoadResult {
  /** Absolute path of the profile. */
  path: string
  /** The path as the user wrote it (diagnostics use it). */
  display: string
}

/** Reads and loads a profile; read failures become diagnostics like every other problem. */
export function readProfile(file: string, opts: BuildOptions = {}): LoadedProfile {
  const abs = path.resolve(file)
  try {
    const st = statSync(abs)
    if (!st.isFile()) throw new Error('not a regular file')
    if (st.size > LIMITS.maxBytes) {
      const r = new Report()
      r.error([], 'NG0002', {limit: LIMITS.maxBytes, size: st.size})
      return {path: abs, display: file, diagnostics: withFile(r.items, file)}
    }
    const bytes = readFileSync(abs)
    return {path: abs, display: file, ...loadProfile(bytes, file, opts)}
  } catch (e) {
    const r = new Report()
    r.error([], 'NG0001', {reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message})
    return {path: abs, display: file, diagnostics: withFile(r.items, file)}
  }
}

function withFile(items: Diagnostic[], file: string): Diagnostic[] {
  return items.map((d) => ({...d, position: {file, line: 1, col: 1}}))
}

/** Default state dir: `.nodegen/<cluster>/` beside the profile. */
export function defaultStateDir(profilePath: string, clusterName: string): string {
  return path.join(path.dirname(profilePath), '.nodegen', clusterName)
}
