import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERTMANAGER_FILE, generateAlertmanager } from './alertmanager.js';
import { COMPOSE_FILE, generateCompose } from './compose.js';
import type { Fleet } from './manifest.js';
import { generatePrometheus, PROMETHEUS_FILE } from './prometheus.js';

/** A file that is partly generated from the manifest: its path from the repository root, and how. */
export interface GeneratedFile {
  readonly path: string;
  /** The file's text with the generated parts rewritten from `fleet`; the rest as in `current`. */
  readonly generate: (current: string, fleet: Fleet) => string;
}

/** Every file `pnpm fleet:generate` writes. */
export const GENERATED_FILES: readonly GeneratedFile[] = [
  { path: COMPOSE_FILE, generate: generateCompose },
  { path: PROMETHEUS_FILE, generate: generatePrometheus },
  { path: ALERTMANAGER_FILE, generate: generateAlertmanager },
];

export interface GenerationResult {
  readonly path: string;
  readonly current: string;
  readonly expected: string;
}

/** What each generated file holds now and what fleet.json says it should hold; writes nothing. */
export function plan(root: string, fleet: Fleet): GenerationResult[] {
  return GENERATED_FILES.map(({ path, generate }) => {
    const current = readFileSync(join(root, path), 'utf8');
    return { path, current, expected: generate(current, fleet) };
  });
}

/** Writes every generated file that differs from the manifest; returns the paths written. */
export function writeGenerated(root: string, fleet: Fleet): string[] {
  const changed = plan(root, fleet).filter((file) => file.current !== file.expected);
  for (const file of changed) writeFileSync(join(root, file.path), file.expected);
  return changed.map((file) => file.path);
}
