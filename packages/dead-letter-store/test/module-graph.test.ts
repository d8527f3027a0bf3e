import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

/** Each module of `src/` and the modules of `src/` it imports (type-only imports too). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of readdirSync(SRC).filter((name) => name.endsWith('.ts'))) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const targets = [...text.matchAll(/\bfrom\s+'\.\/([\w-]+)\.js'/g)].map((m) => `${m[1]}.ts`);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Every import cycle, as the path that closes it (`a.ts → b.ts → a.ts`). */
function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (file: string, path: string[]) => {
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next].join(' → '));
      else if (!state.has(next)) visit(next, [...path, next]);
    }
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
  return found;
}

describe('dead-letter store: module graph', () => {
  it('has no import cycle among its modules (the barrel aside, which nothing imports)', () => {
    const graph = importGraph();
    expect(graph.get('store.ts')).toEqual(expect.arrayContaining(['records.ts', 'redrive.ts']));
    expect(cycles(graph)).toEqual([]);
    // Nothing but the package entry point imports the barrel.
    for (const [file, targets] of graph)
      if (file !== 'index.ts') expect(targets, file).not.toContain('index.ts');
  });
});
