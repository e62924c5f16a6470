/** The adapter between commands and the pure profile loader: finds and reads the profile file. */
import {readFileSync, realpathSync, statSync} from 'node:fs'
import path from 'node:path'
import {type BuildOptions, type Diagnostic, LIMITS, type LoadResult, loadProfile, Report} from '../profile/index.js'
import {PACKAGE_ROOT} from './package-root.js'
import {OWN_THREAD_BYTES, startThread} from './threads.js'

export {PACKAGE_ROOT}

/** profiles/ inside the package: the example profiles nodegen ships. */
export const BUNDLED_PROFILES = path.join(PACKAGE_ROOT, 'profiles')

/** profiles/quickstart.yaml inside the package: what `render` uses with no profile argument. */
export const QUICKSTART_PROFILE = path.join(BUNDLED_PROFILES, 'quickstart.yaml')

export interface LoadedProfile extends LoadResult {
  /** Absolute path of the profile. */
  path: string
  /** The path as the user wrote it (diagnostics use it). */
  display: string
}

/** {@link readProfile}, large profiles in a thread of their own. */
export async function loadProfileFile(file: string, opts: BuildOptions = {}): Promise<LoadedProfile> {
  let size = 0
  try {
    size = statSync(path.resolve(file)).size
  } catch {
    // readProfile reports it.
  }
  if (size < OWN_THREAD_BYTES || size > LIMITS.maxBytes) return readProfile(file, opts)
  const thread = startThread('profile-worker', {workerData: {file, opts}})
  try {
    return await new Promise<LoadedProfile>((resolve, reject) => {
      thread.once('message', resolve)
      thread.once('error', reject)
      thread.once('exit', (code) => reject(new Error(`internal: the profile thread exited (code ${code}) without a result`)))
    })
  } finally {
    await thread.terminate()
  }
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

function real(p: string): string {
  try {
    return realpathSync(p)
  } catch {
    return path.resolve(p)
  }
}

/** Whether a profile is one of the package's own profiles/*.yaml (the default, or named by its path). */
export function isBundledProfile(profilePath: string): boolean {
  return real(path.dirname(path.resolve(profilePath))) === real(BUNDLED_PROFILES)
}

/**
 * The directory a profile's state and build directories go under: beside a profile of the user's,
 * and the working directory `cwd` for a bundled profile, whose directory belongs to the installed
 * package (read-only in a global install, replaced with the CA keys in it by an update).
 */
export function stateBase(profilePath: string, cwd: string): string {
  return isBundledProfile(profilePath) ? path.resolve(cwd) : path.dirname(path.resolve(profilePath))
}

/** Default state dir: `.nodegen/<cluster>/` under {@link stateBase}. */
export function defaultStateDir(profilePath: string, clusterName: string, cwd: string): string {
  return path.join(stateBase(profilePath, cwd), '.nodegen', clusterName)
}
