/**
 * A deterministic generator of malformed and hostile request bodies: wrong
 * types, huge numbers, deep nesting, unknown fields, bad UTF-8, prototype
 * pollution keys, broken JSON, lone surrogates, over-long strings, wrong
 * content types. Every body it makes is one the gateway must refuse with a
 * 4xx; the same seed makes the same bodies.
 */

/** mulberry32: a tiny seeded PRNG, good enough to pick cases reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface HostileRequest {
  kind: string;
  url: string;
  method: 'POST' | 'PUT';
  contentType: string;
  payload: string | Buffer;
}

const VALID = { name: 'welcome', data: { userId: 7, to: 'ada@example.com', name: 'Ada' } };

/** Values that break each field (none of them is valid there). */
const WRONG_VALUES: Record<string, unknown[]> = {
  name: [null, true, 0, 1.5, '', 'x', [], ['welcome'], {}, { welcome: 1 }, 'null'],
  data: [null, true, 0, -1, '', 'x', [], [1, 2], {}, { a: 1 }, 'null'],
  options: [null, true, 0, -1, '', 'x', [], [1, 2], { a: 1 }, 'null'],
  userId: [null, true, -1, 1.5, '', [], {}, 'x'.repeat(129), { id: 1 }],
  to: [null, true, 0, '', 'x', 'ada', 'ada@', '@example.com', [], {}, 'a'.repeat(300)],
  dataName: [null, true, 0, '', [], {}, 'x'.repeat(201)],
};

const HUGE_NUMBERS = [
  '1e308',
  '-1e308',
  '1e999',
  '-1e999',
  '9007199254740993',
  '123456789012345678901234567890',
  '0.30000000000000004',
  '4.9e-324',
  '-1',
];

const POLLUTION_KEYS = [
  '"__proto__"',
  '"constructor"',
  '"\\u005f_proto__"',
  '"__pro\\u0074o__"',
  '"prototype"',
];

const BAD_UTF8 = [
  [0xff],
  [0xfe, 0xff],
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0xbc],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80],
];

const BROKEN_JSON = [
  '',
  ' ',
  '{',
  '}',
  '{"name":"welcome",}',
  "{'name':'welcome'}",
  '{"name":"welcome" "data":{}}',
  '{"name":welcome}',
  'NaN',
  '{"name":"welcome","data":{"userId":NaN}}',
  '{"name":"welcome","data":{"userId":Infinity}}',
  '/* c */ {"name":"welcome"}',
  '{"name":"wel\ncome"}',
  '[',
  '"just a string"',
  '42',
  'true',
  'null',
  '[]',
  '[{"name":"welcome"}]',
  '\u0000',
  '{"a":1}{"b":2}',
];

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/xml',
  'application/jsonx',
  'image/png',
];

/** Makes `count` hostile requests from `seed`, spread over the enqueue, batch and schedule routes. */
export function hostileRequests(seed: number, count: number): HostileRequest[] {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));

  /** A job envelope with one hostile change, as JSON text. */
  const hostileJob = (): { kind: string; text: string } => {
    switch (int(0, 9)) {
      case 0: {
        const field = pick(['name', 'data', 'options']);
        const value = pick(WRONG_VALUES[field] ?? []);
        return { kind: `wrong ${field}`, text: JSON.stringify({ ...VALID, [field]: value }) };
      }
      case 1: {
        const field = pick(['userId', 'to', 'name']);
        const value = pick(WRONG_VALUES[field === 'name' ? 'dataName' : field] ?? []);
        return {
          kind: `wrong data.${field}`,
          text: JSON.stringify({ ...VALID, data: { ...VALID.data, [field]: value } }),
        };
      }
      case 2: {
        const where = pick(['data.userId', 'options.delay', 'options.priority', 'options.attempts']);
        const number = pick(HUGE_NUMBERS);
        const text =
          where === 'data.userId'
            ? `{"name":"welcome","data":{"userId":${number},"to":"ada@example.com"}}`
            : `{"name":"welcome","data":{"userId":1,"to":"ada@example.com"},"options":{"${where.split('.')[1]}":${number}}}`;
        return { kind: `huge number at ${where}`, text };
      }
      case 3: {
        const depth = int(20, 4_000);
        const inner =
          random() < 0.5
            ? `${'['.repeat(depth)}${']'.repeat(depth)}`
            : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
        const spot = pick(['data', 'options', 'extra', 'name']);
        const text = JSON.stringify({ ...VALID, [spot]: '@@' }).replace('"@@"', inner);
        return { kind: `nesting ${depth} deep in ${spot}`, text };
      }
      case 4: {
        const level = pick(['envelope', 'data', 'options']);
        const key = pick([
          'admin',
          'jobId ',
          'removeOnComplete',
          'repeat',
          'Name',
          'data ',
          '',
          'x'.repeat(300),
        ]);
        const body: Record<string, unknown> = { ...VALID, data: { ...VALID.data }, options: { attempts: 2 } };
        const target = level === 'envelope' ? body : (body[level] as Record<string, unknown>);
        target[key] = int(0, 3);
        return { kind: `unknown field "${key.slice(0, 10)}" in ${level}`, text: JSON.stringify(body) };
      }
      case 5: {
        const key = pick(POLLUTION_KEYS);
        const level = pick(['envelope', 'data', 'options', 'deep']);
        const payload = `${key}:{"polluted":true,"prototype":{"isAdmin":true}}`;
        const depth = int(5, 2_000);
        const deep = `${'{"y":'.repeat(depth)}{${payload}}${'}'.repeat(depth)}`;
        const text =
          level === 'envelope'
            ? `{"name":"welcome","data":{"userId":1,"to":"ada@example.com"},${payload}}`
            : level === 'data'
              ? `{"name":"welcome","data":{"userId":1,"to":"ada@example.com",${payload}}}`
              : level === 'options'
                ? `{"name":"welcome","data":{"userId":1,"to":"ada@example.com"},"options":{${payload}}}`
                : `{"name":"welcome","data":{"userId":1,"to":"ada@example.com","x":${deep}}}`;
        return { kind: `pollution key ${key} in ${level}`, text };
      }
      case 6: {
        const surrogate = pick(['\\ud800', '\\udfff', '\\ud83d', '\\ude00\\ud83d', '\\ud800\\u0041']);
        const field = pick(['name', 'to']);
        const text =
          field === 'name'
            ? `{"name":"welcome","data":{"userId":1,"to":"ada@example.com","name":"Ada${surrogate}"}}`
            : `{"name":"welcome","data":{"userId":1,"to":"ada${surrogate}@example.com"}}`;
        return { kind: `lone surrogate ${surrogate} in ${field}`, text };
      }
      case 7:
        return { kind: 'broken JSON', text: pick(BROKEN_JSON) };
      case 8: {
        const name = pick([
          'goodbye',
          '',
          'WELCOME',
          'welcome ',
          '__proto__',
          'constructor',
          'toString',
          'daily-report',
        ]);
        return { kind: `job name "${name}"`, text: JSON.stringify({ ...VALID, name }) };
      }
      default: {
        const options = pick([
          { jobId: String(int(0, 99_999)) },
          { jobId: 'a:b' },
          { jobId: '' },
          { backoff: { type: 'linear', delay: 1 } },
          { backoff: { type: 'fixed', delay: 1, jitter: 5 } },
          { delay: -1 },
          { attempts: 0 },
          { attempts: 26 },
          { priority: 2 ** 21 },
          { lifo: true },
          { removeOnComplete: false },
        ]);
        return { kind: `options ${JSON.stringify(options)}`, text: JSON.stringify({ ...VALID, options }) };
      }
    }
  };

  const requests: HostileRequest[] = [];
  for (let i = 0; i < count; i++) {
    const route = random();
    const json = 'application/json';
    if (route < 0.1) {
      // Not JSON at all, or the wrong charset.
      requests.push({
        kind: 'content type',
        url: '/v1/queues/emails/jobs',
        method: 'POST',
        contentType: pick(CONTENT_TYPES),
        payload: JSON.stringify(VALID),
      });
    } else if (route < 0.2) {
      // Bytes that are not UTF-8, inside an otherwise valid body.
      const bytes = Buffer.from(pick(BAD_UTF8));
      const [head, tail] = [
        Buffer.from('{"name":"welcome","data":{"userId":1,"to":"ada@example.com","name":"A'),
        Buffer.from('"}}'),
      ];
      requests.push({
        kind: `bad UTF-8 ${bytes.toString('hex')}`,
        url: '/v1/queues/emails/jobs',
        method: 'POST',
        contentType: random() < 0.5 ? json : `${json}; charset=utf-8`,
        payload: Buffer.concat([head, bytes, tail]),
      });
    } else if (route < 0.7) {
      const { kind, text } = hostileJob();
      requests.push({
        kind,
        url: '/v1/queues/emails/jobs',
        method: 'POST',
        contentType: json,
        payload: text,
      });
    } else if (route < 0.85) {
      // A batch whose jobs are valid but one (or the envelope itself is wrong).
      const { kind, text } = hostileJob();
      const valid = JSON.stringify(VALID);
      const jobs = Array.from({ length: int(0, 5) }, () => valid);
      jobs.splice(int(0, jobs.length), 0, text);
      const payload =
        random() < 0.9
          ? `{"jobs":[${jobs.join(',')}]}`
          : pick([`[${jobs.join(',')}]`, `{"jobs":${text}}`, '{"jobs":[]}']);
      requests.push({
        kind: `batch: ${kind}`,
        url: '/v1/queues/emails/jobs/batch',
        method: 'POST',
        contentType: json,
        payload,
      });
    } else {
      // A schedule with a hostile job, or a hostile schedule around a valid job.
      const { kind, text } = hostileJob();
      const timing = pick([
        '"cron":"0 2 * * *"',
        '"cron":"99 * * * *"',
        '"cron":"0 2 * * *","timezone":"Nowhere/Atlantis"',
        '"everyMs":-5',
        '"everyMs":1e400',
        '"cron":"0 2 * * *","everyMs":60000',
        '"cron":{"__proto__":1}',
        '"cron":"0 2 * * *","limit":"3"',
      ]);
      const hostileTiming = !timing.startsWith('"cron":"0 2 * * *"') || timing.includes(',');
      const body = hostileTiming && random() < 0.5 ? JSON.stringify(VALID) : text;
      const payload = body.startsWith('{') && body.endsWith('}') ? `${body.slice(0, -1)},${timing}}` : body;
      requests.push({
        kind: `schedule: ${hostileTiming ? timing : kind}`,
        url: '/v1/queues/emails/schedules/hostile',
        method: 'PUT',
        contentType: json,
        payload,
      });
    }
  }
  return requests;
}
