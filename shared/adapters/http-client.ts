import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { PipelineError } from '../errors.ts';

export type HttpRequest = {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /**
   * The largest response body accepted, in bytes. Checked against Content-Length before reading
   * and counted while reading: past it the exchange is aborted (the rest is never read) and the
   * request rejects with HttpResponseTooLargeError. Unset: no limit.
   */
  maxResponseBytes?: number;
};

export type HttpResponse = { status: number; headers: IncomingHttpHeaders; body: string };

/**
 * The exchange failed without an answer. `requestSent` says whether the whole request (headers
 * and body) had been handed to the network first: then the server may have processed it, and a
 * retry is ambiguous (it may deliver the request a second time unless the server honours an
 * idempotency key).
 */
export class HttpExchangeError extends PipelineError {
  override readonly name: string = 'HttpExchangeError';
  constructor(
    message: string,
    readonly requestSent: boolean,
    readonly code?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Thrown when no answer came within the timeout (connect, send and read included). */
export class HttpTimeoutError extends HttpExchangeError {
  override readonly name = 'HttpTimeoutError';
}

/**
 * The response body is larger than the request's maxResponseBytes. The connection was closed
 * without reading the rest; retrying would read the same size again, so it is not retried.
 */
export class HttpResponseTooLargeError extends PipelineError {
  override readonly name = 'HttpResponseTooLargeError';
  constructor(
    readonly limitBytes: number,
    /** Bytes read before giving up, or the Content-Length announced when it was over already. */
    readonly seenBytes: number,
    readonly announced: boolean,
  ) {
    super(
      announced
        ? `the response announces ${seenBytes} bytes (Content-Length), over the ${limitBytes}-byte limit`
        : `the response passed the ${limitBytes}-byte limit (${seenBytes} bytes read, the rest not read)`,
    );
  }
}

// One keep-alive pool per protocol for the whole container: warm invocations reuse connections.
// node:http is used rather than fetch because it does about five times more requests per second
// per core (npm run bench has the figures).
const agents = {
  'http:': new HttpAgent({ keepAlive: true, maxSockets: 128, keepAliveMsecs: 10_000 }),
  'https:': new HttpsAgent({ keepAlive: true, maxSockets: 128, keepAliveMsecs: 10_000 }),
};

/**
 * One HTTP(S) request over a pooled keep-alive connection. Resolves with any status; rejects with
 * HttpExchangeError on network errors, with HttpResponseTooLargeError when the body passes
 * `maxResponseBytes` (read as it streams in, never buffered past the limit), and with
 * HttpTimeoutError when the whole exchange takes
 * longer than timeoutMs. The timeout measures waiting for the server, not for our own event loop:
 * when it fires, whatever the network already delivered is read first (one turn of the loop), so
 * an answer that arrived while this process was busy is not mistaken for a timeout.
 */
export function sendHttp(
  url: string,
  request: HttpRequest,
  timeoutMs: number,
): Promise<HttpResponse> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  const headers: Record<string, string | number> = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
  return new Promise((resolve, reject) => {
    let sent = false;
    let settled = false;
    const req = send(
      target,
      { method: request.method, headers, agent: agents[secure ? 'https:' : 'http:'] },
      (res) => {
        res.on('error', fail);
        const chunks: Buffer[] = [];
        const limit = request.maxResponseBytes;
        const announced = Number(res.headers['content-length']);
        if (limit !== undefined && Number.isFinite(announced) && announced > limit) {
          abort(new HttpResponseTooLargeError(limit, announced, true));
          return;
        }
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (limit !== undefined && read > limit) {
            abort(new HttpResponseTooLargeError(limit, read, false));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.on('finish', () => {
      sent = true;
    });
    const timer = setTimeout(() => {
      // Timers run before the poll phase: let it read what already arrived, then give up.
      setImmediate(() => {
        if (!settled)
          req.destroy(new HttpTimeoutError(`timed out after ${timeoutMs} ms`, sent, 'ETIMEDOUT'));
      });
    }, timeoutMs);
    /** Rejects with `error` and closes the connection, so nothing more of the body is read. */
    function abort(error: HttpResponseTooLargeError) {
      fail(error);
      req.destroy();
    }
    function fail(error: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error instanceof HttpExchangeError || error instanceof HttpResponseTooLargeError) {
        reject(error);
        return;
      }
      const code = (error as { code?: string }).code;
      const message =
        code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
      reject(new HttpExchangeError(message, sent, code, { cause: error }));
    }
    req.on('error', fail);
    req.end(request.body);
  });
}
