import { Counter, Histogram, Registry, type RegistryContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { bindCounter, bindHistogram, DURATION_BUCKETS } from '../src/index.js';

/** A histogram observed through `bindHistogram` and its twin observed through prom-client alone. */
function twinHistograms(options: { exemplars?: boolean } = {}) {
  const make = () => {
    // prom-client keeps exemplars for OpenMetrics registries only.
    const registry = new Registry<RegistryContentType>();
    if (options.exemplars) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const histogram = new Histogram({
      name: 'test_duration_seconds',
      help: 'Test.',
      labelNames: ['route', 'status_code'] as const,
      buckets: DURATION_BUCKETS,
      registers: [registry],
      ...(options.exemplars ? { enableExemplars: true } : {}),
    });
    return { registry, histogram };
  };
  return { bound: make(), plain: make() };
}

function twinCounters() {
  const make = () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'test_jobs_total',
      help: 'Test.',
      labelNames: ['queue', 'result'] as const,
      registers: [registry],
    });
    return { registry, counter };
  };
  return { bound: make(), plain: make() };
}

// Below, on and above the bounds, zero, tiny, and above the last bucket (only +Inf).
const VALUES = [0, 0.0001, 0.005, 0.0050001, 0.2, 0.25, 1, 3, 59.9, 600, 601, 1e6];

describe('bindHistogram', () => {
  it('exposes exactly what prom-client exposes for the same observations', async () => {
    const { bound, plain } = twinHistograms();
    const ok = bindHistogram(bound.histogram, { route: '/a', status_code: 202 });
    const bad = bindHistogram(bound.histogram, { route: '/a', status_code: '500' });
    for (const [i, value] of VALUES.entries()) {
      ok.observe(value);
      plain.histogram.observe({ route: '/a', status_code: '202' }, value);
      if (i % 3 === 0) {
        bad.observe(value * 2);
        plain.histogram.observe({ route: '/a', status_code: 500 }, value * 2);
      }
    }
    expect(await bound.registry.metrics()).toBe(await plain.registry.metrics());
    expect(await bound.registry.metrics()).toContain(
      `test_duration_seconds_count{route="/a",status_code="202"} ${VALUES.length}`,
    );
  });

  it('keeps counting a series observed before it was bound, and after a reset or a removal', async () => {
    const { bound, plain } = twinHistograms();
    const labels = { route: '/b', status_code: '200' } as const;
    bound.histogram.observe(labels, 0.3);
    plain.histogram.observe(labels, 0.3);
    const series = bindHistogram(bound.histogram, labels);
    series.observe(0.01);
    plain.histogram.observe(labels, 0.01);
    expect(await bound.registry.metrics()).toBe(await plain.registry.metrics());

    bound.registry.resetMetrics();
    plain.registry.resetMetrics();
    series.observe(2);
    plain.histogram.observe(labels, 2);
    expect(await bound.registry.metrics()).toBe(await plain.registry.metrics());

    bound.histogram.remove(labels);
    plain.histogram.remove(labels);
    series.observe(7);
    plain.histogram.observe(labels, 7);
    expect(await bound.registry.metrics()).toBe(await plain.registry.metrics());
    expect(await bound.registry.metrics()).toContain(
      'test_duration_seconds_sum{route="/b",status_code="200"} 7',
    );
  });

  it('makes the series at zero when bound, as `zero` does', async () => {
    const { bound, plain } = twinHistograms();
    bindHistogram(bound.histogram, { route: '/c', status_code: '202' });
    plain.histogram.zero({ route: '/c', status_code: '202' });
    expect(await bound.registry.metrics()).toBe(await plain.registry.metrics());
  });

  it("refuses what prom-client refuses: unknown labels, values that aren't numbers", () => {
    const { bound } = twinHistograms();
    expect(() => bindHistogram(bound.histogram, { route: '/d', method: 'GET' } as never)).toThrow(
      /not included in initial labelset/,
    );
    const series = bindHistogram(bound.histogram, { route: '/d', status_code: '202' });
    expect(() => series.observe(Number.NaN)).toThrow(TypeError);
    expect(() => series.observe(Number.POSITIVE_INFINITY)).toThrow(TypeError);
  });

  it('counts through prom-client itself for a histogram with exemplars', async () => {
    const { bound, plain } = twinHistograms({ exemplars: true });
    const series = bindHistogram(bound.histogram, { route: '/e', status_code: '202' });
    series.observe(0.02);
    plain.histogram.observe({ labels: { route: '/e', status_code: '202' }, value: 0.02 });
    expect(await bound.registry.metrics()).toBe(await plain.registry.metrics());
  });
});

describe('bindCounter', () => {
  it('exposes exactly what prom-client exposes for the same counts, across a reset', async () => {
    const { bound, plain } = twinCounters();
    const accepted = bindCounter(bound.counter, { queue: 'emails', result: 'accepted' });
    const rejected = bindCounter(bound.counter, { queue: 'emails', result: 'rejected' });
    for (const n of [1, 1, 5, 0, 2.5]) {
      accepted.inc(n);
      plain.counter.inc({ queue: 'emails', result: 'accepted' }, n);
    }
    rejected.inc();
    plain.counter.inc({ queue: 'emails', result: 'rejected' });
    expect(await bound.registry.metrics()).toBe(await plain.registry.metrics());
    expect(await bound.registry.metrics()).toContain('test_jobs_total{queue="emails",result="accepted"} 9.5');

    bound.registry.resetMetrics();
    plain.registry.resetMetrics();
    accepted.inc(3);
    plain.counter.inc({ queue: 'emails', result: 'accepted' }, 3);
    expect(await bound.registry.metrics()).toBe(await plain.registry.metrics());
  });

  it('refuses a negative or infinite count, as prom-client does', () => {
    const { bound } = twinCounters();
    const series = bindCounter(bound.counter, { queue: 'emails', result: 'accepted' });
    expect(() => series.inc(-1)).toThrow(/decrease/);
    expect(() => series.inc(Number.POSITIVE_INFINITY)).toThrow(TypeError);
  });
});
