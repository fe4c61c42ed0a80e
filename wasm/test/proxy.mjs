// A loopback HTTP proxy in front of the real `edgeflag serve`, for tests: it records
// every request and can inject faults into `current.efr` responses (corrupt or
// truncated bodies, another ruleset's bytes, 503 with Retry-After).
import http from 'node:http';

export function startProxy(target) {
  const log = [];
  const state = { fault: null }; // null | 'corrupt' | 'truncate' | {status, retryAfter} | {body: Uint8Array}
  const server = http.createServer((req, res) => {
    const entry = { method: req.method, url: req.url, ifNoneMatch: req.headers['if-none-match'] ?? null, status: null, at: Date.now() };
    log.push(entry);
    const fault = req.url.endsWith('/current.efr') ? state.fault : null;
    if (fault && fault.status) {
      entry.status = fault.status;
      res.writeHead(fault.status, { 'Retry-After': String(fault.retryAfter ?? ''), 'Access-Control-Allow-Origin': '*' });
      res.end('unavailable');
      return;
    }
    const headers = { ...req.headers, host: new URL(target).host };
    if (fault) delete headers['if-none-match']; // always get a body to damage
    const up = http.request(new URL(req.url, target), { method: req.method, headers }, (upRes) => {
      entry.status = upRes.statusCode;
      if (!fault || upRes.statusCode !== 200) {
        res.writeHead(upRes.statusCode, upRes.headers);
        upRes.pipe(res);
        return;
      }
      const chunks = [];
      upRes.on('data', (c) => chunks.push(c));
      upRes.on('end', () => {
        let body = Buffer.concat(chunks);
        if (fault === 'corrupt') { body = Buffer.from(body); body[body.length - 5] ^= 0xff; }
        else if (fault === 'truncate') body = body.subarray(0, Math.floor(body.length / 2));
        else if (fault.body) body = Buffer.from(fault.body);
        const h = { ...upRes.headers, 'content-length': String(body.length) };
        if (fault.body) h.etag = '"injected"';
        res.writeHead(200, h);
        res.end(body);
      });
    });
    up.on('error', (e) => {
      entry.status ??= 502;
      if (!res.headersSent) res.writeHead(502);
      res.end(String(e));
    });
    // A client that goes away (a closed event stream) closes the upstream request too.
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        log,
        state,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

// A raw loopback origin for hostile behaviour the real server never shows
// (endless lines, retry: 0, announcement floods, oversize bodies). `handler(req,
// res, entry)` answers; every request is logged as {n, url, ifNoneMatch, at, sent,
// aborted, closedAt} (`sent`/`aborted`/`closedAt` are filled by `pump`).
export function startRawServer(handler) {
  const log = [];
  const server = http.createServer((req, res) => {
    const entry = { n: log.length + 1, url: req.url, ifNoneMatch: req.headers['if-none-match'] ?? null, at: Date.now(), sent: 0, aborted: null, closedAt: null };
    log.push(entry);
    res.on('close', () => { entry.closedAt = Date.now(); entry.aborted ??= !res.writableFinished; });
    handler(req, res, entry);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        log,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

/**
 * Writes `chunk` repeatedly (honouring backpressure) until `maxBytes` are sent or
 * the client goes away; then ends the response. Resolves with the bytes sent.
 * Bounded: never more than `maxBytes`.
 */
export function pump(res, chunk, maxBytes, entry) {
  return new Promise((resolve) => {
    let closed = false;
    res.on('close', () => { closed = true; resolve(entry.sent); });
    const write = () => {
      while (!closed && entry.sent < maxBytes) {
        const c = chunk.subarray(0, Math.min(chunk.length, maxBytes - entry.sent));
        entry.sent += c.length;
        if (!res.write(c)) { res.once('drain', write); return; }
      }
      if (!closed) res.end();
    };
    write();
  });
}
