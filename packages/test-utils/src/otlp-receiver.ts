/**
 * A minimal OTLP/HTTP trace receiver for tests: what an OpenTelemetry
 * collector would be, keeping every span in memory. It accepts `POST
 * /v1/traces` as `http/json` (application/json) and `http/protobuf`
 * (application/x-protobuf), gzip-compressed or not, and answers like a
 * collector (an empty ExportTraceServiceResponse).
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

export type ReceivedProtocol = 'http/json' | 'http/protobuf';
export type SpanKindName = 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';
export type ReceivedValue =
  | string
  | number
  | boolean
  | null
  | readonly ReceivedValue[]
  | { readonly [key: string]: ReceivedValue };

/** One span as the receiver got it, with its resource flattened in. Ids are lower-case hex. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** `undefined` for a root span. */
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: SpanKindName;
  /** The resource's `service.name`. */
  readonly serviceName: string | undefined;
  /** The instrumentation scope's name (e.g. `bullmq`, `@fastify/otel`). */
  readonly scope: string;
  readonly attributes: Readonly<Record<string, ReceivedValue>>;
  readonly resource: Readonly<Record<string, ReceivedValue>>;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  /** How the span arrived. */
  readonly protocol: ReceivedProtocol;
}

export interface OtlpReceiver {
  /** The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT` (exporters append `/v1/traces`). */
  readonly url: string;
  /** Every span received so far, in arrival order. */
  spans(): readonly ReceivedSpan[];
  /** The export requests received so far, by protocol. */
  requests(): Readonly<Record<ReceivedProtocol, number>>;
  /** Resolves with the spans once `predicate` holds for them (checked on every export); rejects after `timeoutMs`. */
  waitFor(
    predicate: (spans: readonly ReceivedSpan[]) => boolean,
    timeoutMs?: number,
  ): Promise<readonly ReceivedSpan[]>;
  close(): Promise<void>;
}

// The part of opentelemetry-proto (collector/trace/v1, trace/v1, resource/v1,
// common/v1) the receiver reads; the field numbers are the specification's,
// and fields left out are skipped by the decoder.
const TRACE_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  fixed32 flags = 16;
}
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
`;

let requestType: protobuf.Type | undefined;
function decodeProtobuf(body: Buffer): unknown {
  requestType ??= protobuf.parse(TRACE_PROTO).root.lookupType('otlp.ExportTraceServiceRequest');
  // Field names become lowerCamelCase, as in OTLP/JSON; ids stay bytes, 64-bit numbers become strings.
  return requestType.toObject(requestType.decode(body), { longs: String, enums: Number });
}

const KINDS: readonly SpanKindName[] = [
  'unspecified',
  'internal',
  'server',
  'client',
  'producer',
  'consumer',
];

type Loose = Record<string, unknown>;
const asRecord = (value: unknown): Loose =>
  value !== null && typeof value === 'object' ? (value as Loose) : {};
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** OTLP/JSON writes ids as hex strings; the protobuf decoder hands over bytes. */
function hexId(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return typeof value === 'string' ? value.toLowerCase() : '';
}

function anyValue(value: unknown): ReceivedValue {
  const v = asRecord(value);
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.arrayValue !== undefined) return asArray(asRecord(v.arrayValue).values).map(anyValue);
  if (v.kvlistValue !== undefined) return keyValues(asRecord(v.kvlistValue).values);
  if (v.bytesValue !== undefined) return hexId(v.bytesValue);
  return null;
}

function keyValues(list: unknown): Record<string, ReceivedValue> {
  const out: Record<string, ReceivedValue> = {};
  for (const entry of asArray(list)) {
    const { key, value } = asRecord(entry);
    if (typeof key === 'string') out[key] = anyValue(value);
  }
  return out;
}

/** Flattens an ExportTraceServiceRequest (either encoding, as a plain object) into spans. */
function spansOf(request: unknown, protocol: ReceivedProtocol): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of asArray(asRecord(request).resourceSpans)) {
    const resource = keyValues(asRecord(asRecord(resourceSpans).resource).attributes);
    const serviceName = typeof resource['service.name'] === 'string' ? resource['service.name'] : undefined;
    for (const scopeSpans of asArray(asRecord(resourceSpans).scopeSpans)) {
      const scopeName = asRecord(asRecord(scopeSpans).scope).name;
      for (const raw of asArray(asRecord(scopeSpans).spans)) {
        const span = asRecord(raw);
        const parent = hexId(span.parentSpanId);
        spans.push({
          traceId: hexId(span.traceId),
          spanId: hexId(span.spanId),
          parentSpanId: parent === '' ? undefined : parent,
          name: typeof span.name === 'string' ? span.name : '',
          kind: KINDS[Number(span.kind ?? 0)] ?? 'unspecified',
          serviceName,
          scope: typeof scopeName === 'string' ? scopeName : '',
          attributes: keyValues(span.attributes),
          resource,
          startTimeUnixNano: BigInt(String(span.startTimeUnixNano ?? 0)),
          endTimeUnixNano: BigInt(String(span.endTimeUnixNano ?? 0)),
          protocol,
        });
      }
    }
  }
  return spans;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return request.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
}

/**
 * The ancestors of `span` among `spans`, nearest first, following parent
 * span ids within its trace until a root, or a parent that was not received.
 */
export function ancestorsOf(span: ReceivedSpan, spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(spans.filter((s) => s.traceId === span.traceId).map((s) => [s.spanId, s]));
  const chain: ReceivedSpan[] = [];
  let parentId = span.parentSpanId;
  while (parentId !== undefined) {
    const parent = byId.get(parentId);
    if (!parent || chain.includes(parent)) break;
    chain.push(parent);
    parentId = parent.parentSpanId;
  }
  return chain;
}

/** Starts the receiver on 127.0.0.1 at a free port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: ReceivedSpan[] = [];
  const counts: Record<ReceivedProtocol, number> = { 'http/json': 0, 'http/protobuf': 0 };
  const events = new EventEmitter();

  const reply = (response: ServerResponse, status: number, type: string, body: string | Buffer) => {
    response.writeHead(status, { 'content-type': type }).end(body);
  };
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'POST' || request.url?.split('?')[0] !== '/v1/traces') {
      return reply(response, 404, 'text/plain', 'only POST /v1/traces is received here');
    }
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim();
    const protocol: ReceivedProtocol | undefined =
      type === 'application/json'
        ? 'http/json'
        : type === 'application/x-protobuf'
          ? 'http/protobuf'
          : undefined;
    if (!protocol) return reply(response, 415, 'text/plain', `unsupported content type ${type}`);
    let spans: ReceivedSpan[];
    try {
      const body = await readBody(request);
      spans = spansOf(
        protocol === 'http/json' ? JSON.parse(body.toString('utf8')) : decodeProtobuf(body),
        protocol,
      );
    } catch (error) {
      return reply(response, 400, 'text/plain', `cannot decode the request: ${(error as Error).message}`);
    }
    counts[protocol] += 1;
    received.push(...spans);
    events.emit('spans');
    if (protocol === 'http/json') reply(response, 200, 'application/json', '{}');
    else reply(response, 200, 'application/x-protobuf', Buffer.alloc(0));
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) reply(response, 500, 'text/plain', String(error));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('the OTLP receiver has no port');

  return {
    url: `http://127.0.0.1:${address.port}`,
    spans: () => [...received],
    requests: () => ({ ...counts }),
    waitFor(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(received)) return false;
          cleanup();
          resolve([...received]);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `the expected spans did not arrive within ${timeoutMs} ms (${received.length} received)`,
            ),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          events.off('spans', check);
        };
        if (!check()) events.on('spans', check);
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
