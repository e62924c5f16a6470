/**
 * Packer's `-machine-readable` output and its manifest post-processor's file, parsed. Pure.
 *
 * A machine-readable line is `timestamp,target,type,data…`; commas inside data are written as
 * `%!(PACKER_COMMA)` and newlines as a literal `\n` (Packer's documented format, checked against
 * Packer 1.6.6's output in test/unit/image/machine-readable.test.ts).
 */
import {BAKE_STEPS} from './generate.js'
import type {Builder} from './os.js'

export interface PackerLine {
  timestamp: number
  target: string
  type: string
  data: string[]
}

export function unescapeField(s: string): string {
  return s
    .replace(/%!\(PACKER_COMMA\)/g, ',')
    .replace(/\\n/g, '\n')
    .replace(/\\r/g, '\r')
}

/** One line, or undefined for a line that is not machine-readable (Packer's stray stderr). */
export function parseLine(line: string): PackerLine | undefined {
  const parts = line.replace(/\r?\n$/, '').split(',')
  if (parts.length < 3 || !/^\d+$/.test(parts[0] as string)) return undefined
  return {
    timestamp: Number(parts[0]),
    target: unescapeField(parts[1] as string),
    type: parts[2] as string,
    data: parts.slice(3).map(unescapeField),
  }
}

/** The UI text of a line (`ui,say|message|error,text`), or undefined. */
export function uiText(l: PackerLine): {level: string; text: string} | undefined {
  if (l.type !== 'ui' || l.data.length < 2) return undefined
  return {level: l.data[0] as string, text: l.data.slice(1).join(',')}
}

/** The milestones of a build, in order; progress is the furthest one reached. */
export const MILESTONES = Object.freeze(['start', 'connect', ...BAKE_STEPS, 'save'] as const)
export type Milestone = (typeof MILESTONES)[number]

const STEP_LINE = /nodegen-image: step (\w+)$/m
const START = /Retrieving ISO|Trying .*qcow2|Starting VM|Launching a source AWS instance|Creating instance|Creating temporary key ?pair/i
const CONNECT = /Connected to SSH!|Waiting for SSH to become available/
const SAVE =
  /Creating AMI|Creating image|Converting hard drive|Gracefully halting|Stopping the source instance|Deleting instance|Running post-processor/i

/** Which milestone a UI text line marks, if any. */
export function milestoneOf(text: string): Milestone | undefined {
  const step = STEP_LINE.exec(text)
  if (step && (BAKE_STEPS as readonly string[]).includes(step[1] as string)) return step[1] as Milestone
  if (SAVE.test(text)) return 'save'
  if (CONNECT.test(text)) return 'connect'
  if (START.test(text)) return 'start'
  return undefined
}

/** Lines that explain a failure: Packer's error UI lines and `error` records, most telling last. */
export function errorLines(lines: PackerLine[]): string[] {
  const out: string[] = []
  for (const l of lines) {
    if (l.type === 'error' && l.data.length > 0) out.push(l.data.join(',').trim())
    const ui = uiText(l)
    if (ui && ui.level === 'error') out.push(ui.text.trim())
  }
  return [...new Set(out.filter(Boolean))]
}

// ---------------------------------------------------------------------------------------------
// The manifest post-processor

export interface ManifestBuild {
  name: string
  builder_type: string
  build_time?: number
  files?: Array<{name: string; size?: number}> | null
  artifact_id: string
  packer_run_uuid: string
  custom_data?: Record<string, string>
}

/** What a build produced, in the terms nodegen records. */
export type Artifact =
  | {builder: 'qemu'; id: string; path: string}
  | {builder: 'amazon-ebs'; id: string; region: string; ami: string}
  | {builder: 'googlecompute'; id: string; image: string}

export type ManifestResult = {ok: true; artifact: Artifact; build: ManifestBuild} | {ok: false; reason: string}

/** The last run's build of `name` (the OS) with `builder` in a manifest file's JSON text. */
export function parseManifest(text: string, name: string, builder: Builder): ManifestResult {
  let doc: {builds?: ManifestBuild[]; last_run_uuid?: string}
  try {
    doc = JSON.parse(text)
  } catch {
    return {ok: false, reason: 'it is not JSON'}
  }
  if (!doc || !Array.isArray(doc.builds)) return {ok: false, reason: 'it has no "builds" list'}
  const run = doc.last_run_uuid
  const build = [...doc.builds]
    .reverse()
    .find((b) => b && b.name === name && b.builder_type === builder && (!run || b.packer_run_uuid === run))
  if (!build) return {ok: false, reason: `no build named ${name} of type ${builder} in the last run (${run ?? 'no run id'})`}
  const id = String(build.artifact_id ?? '')
  switch (builder) {
    case 'amazon-ebs': {
      // One "region:ami" pair per region the AMI was copied to; the first is the build region.
      const first = id.split(',')[0] ?? ''
      const m = /^([a-z0-9-]+):(ami-[0-9a-f]+)$/.exec(first)
      if (!m) return {ok: false, reason: `artifact_id ${JSON.stringify(id)} is not region:ami-id`}
      return {ok: true, build, artifact: {builder, id: first, region: m[1] as string, ami: m[2] as string}}
    }
    case 'googlecompute': {
      if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(id)) return {ok: false, reason: `artifact_id ${JSON.stringify(id)} is not an image name`}
      return {ok: true, build, artifact: {builder, id, image: id}}
    }
    case 'qemu': {
      const disk = (build.files ?? []).map((f) => f.name).find((f) => /\.(qcow2|img|raw)$/.test(f))
      if (!disk) return {ok: false, reason: 'the build lists no disk image file'}
      return {ok: true, build, artifact: {builder, id: disk, path: disk}}
    }
  }
}
