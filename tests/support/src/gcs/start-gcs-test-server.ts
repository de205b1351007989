import { createHash, randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { CRC32C } from '@google-cloud/storage';
import {
  createFaultInjector,
  type FaultInjector,
  type FaultInjectorOptions,
} from '../faults/create-fault-injector';
import { type FaultResponse, faultBeforeResponse, sendWithFault } from '../faults/deliver-fault';
import type { Fault, FaultOperation } from '../faults/fault-types';
import { countInFlight, listen } from '../http/listen';
import { multipartBoundary, parseMultipart } from './multipart';
import {
  createDirectoryBacking,
  createMemoryBacking,
  type ObjectBacking,
  type StoredObject,
  UnstorableNameError,
} from './object-backing';

export interface GcsTestServerOptions {
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /**
   * Default: in memory. `{ directory }` keeps each bucket in `{directory}/{bucket}/`;
   * `{ directory, bucket }` serves `directory` itself as that one bucket.
   */
  backing?: 'memory' | { directory: string; bucket?: string };
  /** Largest upload accepted (413 above). Default 256 MiB. */
  maxUploadBytes?: number;
  /** Where the seed of probabilistic fault rules is printed. Default `console.error`. */
  log?: FaultInjectorOptions['log'];
}

export interface GcsTestRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** `list`, `download`, `metadata`, `upload`, `delete` or `other`, as fault rules see it. */
  operation: FaultOperation;
}

export interface GcsTestServer {
  /** Base URL for `createGcsFetcher({ emulatorHost })` / `new Storage({ apiEndpoint })`. */
  url: string;
  port: number;
  putObject(bucket: string, name: string, bytes: Uint8Array, contentType?: string): Promise<void>;
  deleteObject(bucket: string, name: string): Promise<boolean>;
  objects(): Promise<{ bucket: string; name: string; size: number }[]>;
  /** Requests served so far (method, decoded path, query, operation), newest last. */
  requests(): readonly GcsTestRequest[];
  /**
   * Injected failures: `server.faults.set([{ on: 'download', fault: { kind: 'status', status:
   * 503 }, times: 2 }])`, `server.faults.clear()`, `server.faults.count()`. No rule, no fault.
   */
  faults: FaultInjector;
  /**
   * Requests not yet answered in full whose connection is still open: a stalled, hanging or slow
   * response counts until it ends or the client gives up and closes the connection.
   */
  inFlight(): number;
  close(): Promise<void>;
}

interface UploadSession {
  bucket: string;
  name: string;
  contentType: string;
  chunks: Buffer[];
  received: number;
}

const MAX_PAGE = 1000;
const MAX_LOGGED_REQUESTS = 10_000;

/**
 * A Google Cloud Storage JSON-API server for tests, on node:http, implementing what
 * `@google-cloud/storage` uses to list, read, write and delete objects: object listing (prefix,
 * delimiter, maxResults, pageToken, startOffset, endOffset; `fields` accepted, full items
 * returned), metadata, media download (`alt=media`, `/download/...`, Range), uploads (media,
 * multipart, resumable incl. chunked), delete. Errors have GCS's JSON shape. Buckets exist
 * implicitly; there is no auth, ACL, versioning or preconditions.
 */
export async function startGcsTestServer(
  options: GcsTestServerOptions = {},
): Promise<GcsTestServer> {
  const backing: ObjectBacking =
    options.backing === undefined || options.backing === 'memory'
      ? createMemoryBacking()
      : createDirectoryBacking(options.backing.directory, options.backing.bucket);
  const maxUploadBytes = options.maxUploadBytes ?? 256 * 1024 * 1024;
  const sessions = new Map<string, UploadSession>();
  const log: GcsTestRequest[] = [];
  const faults = createFaultInjector({
    name: 'gcs-test-server',
    ...(options.log ? { log: options.log } : {}),
  });
  let baseUrl = '';

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        sendError(
          res,
          500,
          'internalError',
          error instanceof Error ? error.message : String(error),
        );
      else res.destroy();
    });
  });
  const inFlight = countInFlight(server);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query = Object.fromEntries(url.searchParams);
    const segments = url.pathname.split('/').slice(1);
    const method = req.method ?? 'GET';
    const path = safeDecode(url.pathname) ?? url.pathname;
    const operation = operationOf(method, segments, query);
    log.push({ method, path, query, operation });
    if (log.length > MAX_LOGGED_REQUESTS) log.shift();
    const fault = faults.pick({ operation, method, path });
    if (fault !== null) {
      if (await faultBeforeResponse(req, res, fault, errorResponse)) return;
      bodyFaults.set(res, fault);
    }

    // /storage/v1/b/{bucket}/o[/{name}]  and  /download/storage/v1/b/{bucket}/o/{name}
    const download = segments[0] === 'download';
    const api = download ? segments.slice(1) : segments;
    if (
      api[0] === 'storage' &&
      api[1] === 'v1' &&
      api[2] === 'b' &&
      api[3] !== undefined &&
      api[4] === 'o'
    ) {
      const bucket = safeDecode(api[3]);
      const rawName = api.slice(5).join('/');
      if (bucket === null) return sendError(res, 400, 'invalid', 'bad bucket encoding');
      if (rawName === '') {
        if (method === 'GET' && !download) return listObjects(res, bucket, query);
        return sendError(res, 405, 'methodNotAllowed', `${method} on an object collection`);
      }
      const name = safeDecode(rawName);
      if (name === null || !isValidObjectName(name))
        return sendError(res, 400, 'invalid', 'invalid object name');
      if (method === 'GET')
        return getObject(req, res, bucket, name, download || query.alt === 'media');
      if (method === 'DELETE') {
        return (await backing.delete(bucket, name))
          ? send(res, 204, {}, new Uint8Array(0))
          : notFound(res, bucket, name);
      }
      return sendError(res, 405, 'methodNotAllowed', `${method} on an object`);
    }
    // /upload/storage/v1/b/{bucket}/o
    if (
      segments[0] === 'upload' &&
      segments[1] === 'storage' &&
      segments[2] === 'v1' &&
      segments[3] === 'b'
    ) {
      const bucket = safeDecode(segments[4] ?? '');
      if (bucket === null || bucket === '' || segments[5] !== 'o' || segments.length !== 6) {
        return sendError(res, 404, 'notFound', 'unknown upload path');
      }
      return upload(req, res, method, bucket, query);
    }
    return sendError(res, 404, 'notFound', `no route for ${method} ${url.pathname}`);
  }

  async function listObjects(
    res: ServerResponse,
    bucket: string,
    query: Record<string, string>,
  ): Promise<void> {
    const prefix = query.prefix ?? '';
    const delimiter = query.delimiter ?? '';
    const maxResults = Math.min(
      MAX_PAGE,
      Math.max(1, Number.parseInt(query.maxResults ?? `${MAX_PAGE}`, 10) || MAX_PAGE),
    );
    // Page tokens are the base64 of the last name returned; listing resumes strictly after it.
    let after: string | null = null;
    if (query.pageToken) {
      after = Buffer.from(query.pageToken, 'base64url').toString('utf8');
      if (after === '') return sendError(res, 400, 'invalid', 'invalid pageToken');
    }
    const items: StoredObjectJson[] = [];
    const prefixes = new Set<string>();
    let nextPageToken: string | undefined;
    let last: string | null = null;
    for (const name of await backing.list(bucket)) {
      if (!name.startsWith(prefix)) continue;
      if (query.startOffset && name < query.startOffset) continue;
      if (query.endOffset && name >= query.endOffset) continue;
      if (after !== null && name <= after) continue;
      if (items.length + prefixes.size >= maxResults) {
        nextPageToken = Buffer.from(last ?? '', 'utf8').toString('base64url');
        break;
      }
      const cut = delimiter === '' ? -1 : name.indexOf(delimiter, prefix.length);
      if (cut >= 0) {
        prefixes.add(name.slice(0, cut + delimiter.length));
      } else {
        const object = await backing.get(bucket, name);
        if (object !== null) items.push(objectJson(bucket, name, object));
      }
      last = name;
    }
    sendJson(res, 200, {
      kind: 'storage#objects',
      ...(items.length > 0 ? { items } : {}),
      ...(prefixes.size > 0 ? { prefixes: [...prefixes] } : {}),
      ...(nextPageToken !== undefined ? { nextPageToken } : {}),
    });
  }

  async function getObject(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    name: string,
    media: boolean,
  ): Promise<void> {
    const object = await backing.get(bucket, name);
    if (object === null) return notFound(res, bucket, name);
    if (!media) return sendJson(res, 200, objectJson(bucket, name, object));
    const headers: OutgoingHttpHeaders = {
      'content-type': object.contentType,
      'x-goog-generation': object.generation.toString(),
      'x-goog-stored-content-encoding': 'identity',
      'x-goog-stored-content-length': `${object.bytes.length}`,
    };
    const range = req.headers.range;
    if (range === undefined) {
      headers['x-goog-hash'] =
        `crc32c=${crc32cBase64(object.bytes)},md5=${md5Base64(object.bytes)}`;
      return send(res, 200, headers, object.bytes);
    }
    const parsed = parseRange(range, object.bytes.length);
    if (parsed === null) {
      return send(
        res,
        416,
        { 'content-range': `bytes */${object.bytes.length}` },
        new Uint8Array(0),
      );
    }
    const slice = object.bytes.subarray(parsed.start, parsed.end + 1);
    headers['content-range'] = `bytes ${parsed.start}-${parsed.end}/${object.bytes.length}`;
    send(res, 206, headers, slice);
  }

  async function upload(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    bucket: string,
    query: Record<string, string>,
  ): Promise<void> {
    if (method === 'PUT' && query.upload_id !== undefined)
      return resumeUpload(req, res, query.upload_id);
    if (method !== 'POST')
      return sendError(res, 405, 'methodNotAllowed', `${method} on the upload endpoint`);
    const body = await readBody(req, maxUploadBytes);
    if (body === null)
      return sendError(res, 413, 'uploadTooLarge', `upload exceeds ${maxUploadBytes} bytes`);
    const uploadType = query.uploadType ?? 'media';
    if (uploadType === 'media') {
      if (!query.name || !isValidObjectName(query.name))
        return sendError(res, 400, 'required', 'name is required');
      const contentType = req.headers['content-type'] ?? 'application/octet-stream';
      return store(res, bucket, query.name, body, contentType);
    }
    if (uploadType === 'multipart') {
      const boundary = multipartBoundary(req.headers['content-type']);
      const parts = boundary === null ? null : parseMultipart(body, boundary);
      if (parts === null || parts.length !== 2)
        return sendError(res, 400, 'invalid', 'malformed multipart body');
      const metadata = parseJsonObject(parts[0]!.body);
      const name = typeof metadata?.name === 'string' ? metadata.name : query.name;
      if (!name || !isValidObjectName(name))
        return sendError(res, 400, 'required', 'name is required');
      const contentType =
        (typeof metadata?.contentType === 'string' ? metadata.contentType : undefined) ??
        parts[1]!.headers['content-type'] ??
        'application/octet-stream';
      return store(res, bucket, name, parts[1]!.body, contentType);
    }
    if (uploadType === 'resumable') {
      const metadata = body.length > 0 ? parseJsonObject(body) : {};
      const name = typeof metadata?.name === 'string' ? metadata.name : query.name;
      if (!name || !isValidObjectName(name))
        return sendError(res, 400, 'required', 'name is required');
      const id = randomBytes(16).toString('hex');
      const contentType =
        (typeof metadata?.contentType === 'string' ? metadata.contentType : undefined) ??
        headerValue(req.headers['x-upload-content-type']) ??
        'application/octet-stream';
      sessions.set(id, { bucket, name, contentType, chunks: [], received: 0 });
      const location = `${baseUrl}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}`;
      return send(res, 200, { location }, new Uint8Array(0));
    }
    return sendError(res, 400, 'invalid', `unsupported uploadType ${uploadType}`);
  }

  // A PUT to a resumable session: `Content-Range: bytes a-b/total` (total may be `*`) or a `bytes */total` status query.
  async function resumeUpload(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
  ): Promise<void> {
    const session = sessions.get(id);
    if (session === undefined) return sendError(res, 404, 'notFound', 'no such upload session');
    const body = await readBody(req, maxUploadBytes - session.received);
    if (body === null)
      return sendError(res, 413, 'uploadTooLarge', `upload exceeds ${maxUploadBytes} bytes`);
    const header =
      req.headers['content-range'] ??
      (body.length > 0 ? `bytes 0-${body.length - 1}/${body.length}` : 'bytes */0');
    const match = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(header.trim());
    if (match === null) return sendError(res, 400, 'invalid', `bad Content-Range ${header}`);
    let total = match[3] === '*' ? null : Number(match[3]);
    if (match[1] !== undefined) {
      const first = Number(match[1]);
      if (first > session.received)
        return sendError(res, 400, 'invalid', `chunk starts at ${first}, have ${session.received}`);
      if (match[2] !== '*' && Number(match[2]) - first + 1 !== body.length)
        return sendError(res, 400, 'invalid', `Content-Range ${header} does not match the body`);
      // Overlapping retransmissions keep only the bytes not yet received.
      const fresh = body.subarray(Math.min(body.length, session.received - first));
      session.chunks.push(fresh);
      session.received += fresh.length;
      // `bytes a-*/*` (the client's single-request mode): this body is the rest of the object.
      if (match[2] === '*' && total === null) total = session.received;
    }
    if (total !== null && session.received >= total) {
      sessions.delete(id);
      return store(
        res,
        session.bucket,
        session.name,
        Buffer.concat(session.chunks).subarray(0, total),
        session.contentType,
      );
    }
    const headers: OutgoingHttpHeaders = {};
    if (session.received > 0) headers.range = `bytes=0-${session.received - 1}`;
    send(res, 308, headers, new Uint8Array(0));
  }

  async function store(
    res: ServerResponse,
    bucket: string,
    name: string,
    bytes: Buffer,
    contentType: string,
  ): Promise<void> {
    let object: StoredObject;
    try {
      object = await backing.put(bucket, name, new Uint8Array(bytes), contentType);
    } catch (error) {
      if (error instanceof UnstorableNameError)
        return sendError(res, 400, 'invalid', error.message);
      throw error;
    }
    sendJson(res, 200, objectJson(bucket, name, object));
  }

  function notFound(res: ServerResponse, bucket: string, name: string): void {
    sendError(res, 404, 'notFound', `No such object: ${bucket}/${name}`);
  }

  const listening = await listen(server, options);
  baseUrl = listening.url;

  return {
    url: listening.url,
    port: listening.port,
    async putObject(bucket, name, bytes, contentType = 'application/octet-stream') {
      if (!isValidObjectName(name)) throw new Error(`invalid object name ${JSON.stringify(name)}`);
      await backing.put(bucket, name, bytes, contentType);
    },
    deleteObject: (bucket, name) => backing.delete(bucket, name),
    async objects() {
      const out: { bucket: string; name: string; size: number }[] = [];
      for (const bucket of await backing.buckets()) {
        for (const name of await backing.list(bucket)) {
          const object = await backing.get(bucket, name);
          if (object !== null) out.push({ bucket, name, size: object.bytes.length });
        }
      }
      return out;
    },
    requests: () => log,
    faults,
    inFlight,
    close: listening.close,
  };
}

interface StoredObjectJson {
  kind: string;
  id: string;
  name: string;
  bucket: string;
  generation: string;
  metageneration: string;
  contentType: string;
  size: string;
  md5Hash: string;
  crc32c: string;
  storageClass: string;
  timeCreated: string;
  updated: string;
}

function objectJson(bucket: string, name: string, object: StoredObject): StoredObjectJson {
  return {
    kind: 'storage#object',
    id: `${bucket}/${name}/${object.generation}`,
    name,
    bucket,
    generation: object.generation.toString(),
    metageneration: '1',
    contentType: object.contentType,
    size: `${object.bytes.length}`,
    md5Hash: md5Base64(object.bytes),
    crc32c: crc32cBase64(object.bytes),
    storageClass: 'STANDARD',
    timeCreated: object.updated.toISOString(),
    updated: object.updated.toISOString(),
  };
}

function md5Base64(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('base64');
}

/** CRC-32C as GCS reports it, computed by the client library's own implementation. */
function crc32cBase64(bytes: Uint8Array): string {
  const crc = new CRC32C();
  crc.update(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return crc.toString();
}

/** GCS object names: 1..1024 bytes of UTF-8, no CR/LF; '.' and '..' are not allowed. */
function isValidObjectName(name: string): boolean {
  return (
    name.length > 0 &&
    Buffer.byteLength(name) <= 1024 &&
    !/[\r\n\0]/.test(name) &&
    name !== '.' &&
    name !== '..'
  );
}

function safeDecode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseJsonObject(bytes: Buffer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` (single ranges only); null when unsatisfiable. */
function parseRange(header: string, size: number): { start: number; end: number } | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return null;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  return start >= size || end < start ? null : { start, end };
}

/** The whole request body, or null once it exceeds `limit` (the rest is drained). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) tooLarge = true;
    if (!tooLarge) chunks.push(chunk);
  }
  return tooLarge ? null : Buffer.concat(chunks, total);
}

/** Body faults chosen for a request, applied when its response is sent. */
const bodyFaults = new WeakMap<ServerResponse, Fault>();

/** Every response leaves through here, so a body fault applies to whatever the route answers. */
function send(
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  body: Uint8Array,
): void {
  sendWithFault(res, { status, headers, body }, bodyFaults.get(res) ?? null);
}

function jsonResponse(status: number, body: unknown): FaultResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=UTF-8' },
    body: Buffer.from(JSON.stringify(body)),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const response = jsonResponse(status, body);
  send(res, response.status, response.headers, response.body);
}

/** GCS's error shape: `{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}`. */
function errorResponse(status: number, message: string, reason = reasonOf(status)): FaultResponse {
  return jsonResponse(status, {
    error: { code: status, message, errors: [{ message, domain: 'global', reason }] },
  });
}

function sendError(res: ServerResponse, status: number, reason: string, message: string): void {
  const response = errorResponse(status, message, reason);
  send(res, response.status, response.headers, response.body);
}

function reasonOf(status: number): string {
  if (status === 429) return 'rateLimitExceeded';
  if (status === 503) return 'backendError';
  return status >= 500 ? 'internalError' : 'invalid';
}

/** A request's operation for fault rules, from the JSON-API routes the server implements. */
function operationOf(
  method: string,
  segments: readonly string[],
  query: Record<string, string>,
): FaultOperation {
  if (segments[0] === 'upload') return 'upload';
  const download = segments[0] === 'download';
  const api = download ? segments.slice(1) : segments;
  if (api[0] !== 'storage' || api[1] !== 'v1' || api[2] !== 'b' || api[4] !== 'o') return 'other';
  const object = api.slice(5).join('/') !== '';
  if (method === 'DELETE' && object) return 'delete';
  if (method !== 'GET') return 'other';
  if (!object) return download ? 'other' : 'list';
  return download || query.alt === 'media' ? 'download' : 'metadata';
}
