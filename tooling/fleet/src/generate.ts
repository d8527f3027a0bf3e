import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ALERTMANAGER_FILE, generateAlertmanager } from './alertmanager.js';
import { COMPOSE_FILE, generateCompose } from './compose.js';
import { generateKubernetes, KUBERNETES_DIR } from './kubernetes.js';
import type { Fleet } from './manifest.js';
import { generatePrometheus, PROMETHEUS_FILE } from './prometheus.js';

/** A file that is partly generated from the manifest: its path from the repository root, and how. */
export interface GeneratedFile {
  readonly path: string;
  /** The file's text with the generated parts rewritten from `fleet`; the rest as in `current`. */
  readonly generate: (current: string, fleet: Fleet) => string;
}

/** Every partly generated file `pnpm fleet:generate` writes (besides the whole files of {@link KUBERNETES_DIR}). */
export const GENERATED_FILES: readonly GeneratedFile[] = [
  { path: COMPOSE_FILE, generate: generateCompose },
  { path: PROMETHEUS_FILE, generate: generatePrometheus },
  { path: ALERTMANAGER_FILE, generate: generateAlertmanager },
];

export interface GenerationResult {
  readonly path: string;
  /** undefined: the file does not exist. */
  readonly current: string | undefined;
  /** undefined: the file should not exist (a generated file of an app no longer in fleet.json). */
  readonly expected: string | undefined;
}

const readIfExists = (path: string): string | undefined =>
  existsSync(path) ? readFileSync(path, 'utf8') : undefined;

/** What each generated file holds now and what fleet.json says it should hold; writes nothing. */
export function plan(root: string, fleet: Fleet): GenerationResult[] {
  const partly = GENERATED_FILES.map(({ path, generate }) => {
    const current = readFileSync(join(root, path), 'utf8');
    return { path, current, expected: generate(current, fleet) };
  });
  const whole = generateKubernetes(fleet);
  const dir = join(root, KUBERNETES_DIR);
  const present = existsSync(dir) ? readdirSync(dir).map((name) => `${KUBERNETES_DIR}/${name}`) : [];
  const paths = [...new Set([...whole.keys(), ...present])].sort();
  return [
    ...partly,
    ...paths.map((path) => ({ path, current: readIfExists(join(root, path)), expected: whole.get(path) })),
  ];
}

/** Writes (or removes) every generated file that differs from the manifest; returns the paths changed. */
export function writeGenerated(root: string, fleet: Fleet): string[] {
  const changed = plan(root, fleet).filter((file) => file.current !== file.expected);
  for (const file of changed) {
    const path = join(root, file.path);
    if (file.expected === undefined) rmSync(path);
    else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, file.expected);
    }
  }
  return changed.map((file) => file.path);
}
