#!/usr/bin/env python3
"""A fake Kubernetes API server: a test fixture for ternd's kubernetes
datastore. It speaks the real protocol for the six resources ternd reads:
HTTPS with a test CA, bearer-token or client-certificate auth (401 Status
otherwise), paginated lists (limit/continue, typed *List objects whose items
leave out kind and apiVersion, metadata.resourceVersion), watches as a
chunked stream of JSON events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR)
resumed from a resourceVersion, and 410 Gone once that version is compacted.

Tests steer it over HTTP on a Unix socket (--control):
  POST   /objects                 body: an object (or a List of them): create or replace
  DELETE /objects/RES/NS/NAME     NS "-" for cluster-scoped objects
  POST   /compact[?expire=1]      forget history up to now; expire=1 also ends
                                  every open watch with an ERROR 410 event
  POST   /break[?partial=1]       cut every open watch (no final chunk; partial=1
                                  first sends half an event)
  POST   /bookmark                a BOOKMARK to every watch that allows them
  POST   /down?code=503  /up      answer every API request with that status
  POST   /fail?resource=R&code=C&count=N   the next N requests for R fail with C
  POST   /tokens?set=a,b          the bearer tokens accepted from now on
  POST   /max-page?n=N            at most N items per list page (0: the limit)
  POST   /watch-timeout?seconds=S end each watch cleanly after S seconds
  POST   /split?bytes=N           write each watch event in chunks of N bytes (0: whole)
  GET    /count?resource=R&verb=list|watch[&code=C]   requests seen, a number
  GET    /count?auth=X            requests authenticated as X ("token:T",
                                  "cert:CN", "none")
  GET    /rv                      the current resourceVersion
  GET    /log                     every request, one JSON line each
"""
import argparse
import base64
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# resource -> (apiVersion, kind, namespaced, path)
RESOURCES = {
    "namespaces": ("v1", "Namespace", False, "/api/v1/namespaces"),
    "nodes": ("v1", "Node", False, "/api/v1/nodes"),
    "pods": ("v1", "Pod", True, "/api/v1/pods"),
    "services": ("v1", "Service", True, "/api/v1/services"),
    "endpointslices": ("discovery.k8s.io/v1", "EndpointSlice", True,
                       "/apis/discovery.k8s.io/v1/endpointslices"),
    "networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy", True,
                        "/apis/networking.k8s.io/v1/networkpolicies"),
}
BY_PATH = {v[3]: k for k, v in RESOURCES.items()}
BY_KIND = {v[1]: k for k, v in RESOURCES.items()}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Store:
    def __init__(self, tokens):
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {r: {} for r in RESOURCES}
        self.events = []            # (rv, resource, type, object)
        self.compacted = 0          # a watch or continue from below this is gone
        self.tokens = set(tokens)
        self.down = 0
        self.fail = {}              # resource -> [code, count]
        self.max_page = 0
        self.watch_timeout = 0
        self.split = 0
        self.snapshots = {}         # continue id -> (rv, items)
        self.log = []
        self.break_gen = 0
        self.partial = False
        self.expire_gen = 0
        self.bookmark_gen = 0

    def put(self, obj):
        kind = obj.get("kind")
        res = BY_KIND.get(kind)
        if not res:
            raise ValueError("unknown kind %r" % kind)
        meta = obj.setdefault("metadata", {})
        if RESOURCES[res][2]:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        key = (meta.get("namespace", ""), meta["name"])
        with self.cond:
            old = self.objects[res].get(key)
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            meta["uid"] = old["metadata"]["uid"] if old else str(uuid.uuid4())
            meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            self.objects[res][key] = obj
            self.events.append((self.rv, res, "MODIFIED" if old else "ADDED", obj))
            self.cond.notify_all()
            return self.rv

    def delete(self, res, ns, name):
        with self.cond:
            obj = self.objects[res].pop(("" if ns == "-" else ns, name), None)
            if obj is None:
                return None
            self.rv += 1
            obj = json.loads(json.dumps(obj))
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.events.append((self.rv, res, "DELETED", obj))
            self.cond.notify_all()
            return self.rv

    def compact(self, expire):
        with self.cond:
            self.compacted = self.rv
            self.events = [e for e in self.events if e[0] > self.compacted]
            if expire:
                self.expire_gen += 1
            self.cond.notify_all()


STORE = None
ARGS = None


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        if ARGS.verbose:
            sys.stderr.write("fake-apiserver: " + (fmt % a) + "\n")

    def record(self, res, verb, code, auth, params):
        with STORE.cond:
            STORE.log.append({"resource": res, "verb": verb, "code": code, "auth": auth,
                              "params": params, "t": time.time()})

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authenticate(self):
        h = self.headers.get("Authorization", "")
        if h.startswith("Bearer "):
            tok = h[7:]
            return "token:" + tok if tok in STORE.tokens else None
        cert = self.connection.getpeercert()
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return "cert:" + v
        return None

    def do_GET(self):
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        res = BY_PATH.get(url.path)
        verb = "watch" if params.get("watch") in ("1", "true") else "list"
        auth = self.authenticate()
        if auth is None:
            self.record(res, verb, 401, "none", params)
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        if res is None:
            self.record(res, verb, 404, auth, params)
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        with STORE.cond:
            code = STORE.down
            f = STORE.fail.get(res)
            if not code and f and f[1] > 0:
                code = f[0]
                f[1] -= 1
        if code:
            self.record(res, verb, code, auth, params)
            return self.send_json(code, status(code, "ServiceUnavailable", "the fake is told to fail"))
        if verb == "watch":
            return self.watch(res, params, auth)
        return self.list(res, params, auth)

    def list(self, res, params, auth):
        api, kind, _, _ = RESOURCES[res]
        limit = int(params.get("limit", "0") or 0)
        cont = params.get("continue")
        with STORE.cond:
            if cont:
                try:
                    sid, off = json.loads(base64.b64decode(cont))
                    snap = STORE.snapshots[sid]
                except Exception:
                    self.record(res, "list", 400, auth, params)
                    return self.send_json(400, status(400, "BadRequest", "invalid continue token"))
                if snap[0] < STORE.compacted:
                    self.record(res, "list", 410, auth, params)
                    return self.send_json(410, status(410, "Expired",
                        "The provided continue parameter is too old to display a consistent list result."))
            else:
                items = [json.loads(json.dumps(o)) for _, o in sorted(STORE.objects[res].items())]
                for o in items:
                    o.pop("kind", None)
                    o.pop("apiVersion", None)
                sid, off = str(uuid.uuid4()), 0
                snap = STORE.snapshots[sid] = (STORE.rv, items)
            n = limit
            if STORE.max_page and (not n or n > STORE.max_page):
                n = STORE.max_page
        rv, items = snap
        page = items[off:off + n] if n else items[off:]
        meta = {"resourceVersion": str(rv)}
        nxt = off + len(page)
        if nxt < len(items):
            meta["continue"] = base64.b64encode(json.dumps([sid, nxt]).encode()).decode()
            meta["remainingItemCount"] = len(items) - nxt
        self.record(res, "list", 200, auth, params)
        self.send_json(200, {"kind": kind + "List", "apiVersion": api, "metadata": meta,
                             "items": page})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def event(self, type_, obj):
        data = json.dumps({"type": type_, "object": obj}).encode() + b"\n"
        n = STORE.split or len(data)
        # small pieces, each sent on its own: the client must reassemble
        for i in range(0, len(data), n):
            self.chunk(data[i:i + n])

    def cut(self):
        """End the stream the way a dying connection does: no final chunk,
        no TLS close_notify."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def watch(self, res, params, auth):
        api, kind, _, _ = RESOURCES[res]
        rv = params.get("resourceVersion", "")
        bookmarks = params.get("allowWatchBookmarks") == "true"
        timeout = int(params.get("timeoutSeconds", "1800"))
        with STORE.cond:
            if STORE.watch_timeout:
                timeout = min(timeout, STORE.watch_timeout)
            gens = (STORE.break_gen, STORE.expire_gen, STORE.bookmark_gen)
            start = []
            if rv in ("", "0"):
                start = [("ADDED", o) for o in STORE.objects[res].values()]
                pos = STORE.rv
            else:
                pos = int(rv)
        self.record(res, "watch", 200, auth, params)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + timeout
        try:
            if pos < STORE.compacted:
                # what the API server does too: 200, then one ERROR event
                self.event("ERROR", status(410, "Expired", "too old resource version: %d (%d)"
                                           % (pos, STORE.compacted)))
                self.chunk(b"")
                return
            for t, o in start:
                self.event(t, o)
            while True:
                with STORE.cond:
                    while True:
                        evs = [e for e in STORE.events if e[0] > pos and e[1] == res]
                        left = deadline - time.monotonic()
                        now = (STORE.break_gen, STORE.expire_gen, STORE.bookmark_gen)
                        if evs or now != gens or left <= 0:
                            break
                        STORE.cond.wait(min(left, 1.0))
                    cur = STORE.rv
                    partial = STORE.partial
                for e in evs:
                    self.event(e[2], e[3])
                    pos = e[0]
                if now[0] != gens[0]:
                    if partial:
                        self.chunk(b'{"type":"ADDED","object":{"kind":"%s","apiVersion":"%s",'
                                   b'"metadata":{"name":"ghost",' % (kind.encode(), api.encode()))
                    return self.cut()
                if now[1] != gens[1]:
                    self.event("ERROR", status(410, "Expired", "too old resource version: %d (%d)"
                                               % (pos, cur)))
                    self.chunk(b"")
                    return
                if now[2] != gens[2]:
                    gens = now
                    if bookmarks:
                        self.event("BOOKMARK", {"kind": kind, "apiVersion": api,
                                                "metadata": {"resourceVersion": str(cur)}})
                        pos = max(pos, cur)
                if time.monotonic() >= deadline:
                    self.chunk(b"")
                    return
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True


class Control(BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        pass

    def address_string(self):
        return "control"

    def reply(self, code, text):
        data = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def params(self):
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def do_GET(self):
        path, p = urlsplit(self.path).path, self.params()
        with STORE.cond:
            log = list(STORE.log)
            rv = STORE.rv
        if path == "/rv":
            return self.reply(200, str(rv))
        if path == "/log":
            return self.reply(200, "\n".join(json.dumps(e) for e in log))
        if path == "/count":
            n = 0
            for e in log:
                if "resource" in p and e["resource"] != p["resource"]:
                    continue
                if "verb" in p and e["verb"] != p["verb"]:
                    continue
                if "code" in p and str(e["code"]) != p["code"]:
                    continue
                if "auth" in p and e["auth"] != p["auth"]:
                    continue
                n += 1
            return self.reply(200, str(n))
        self.reply(404, "no such control")

    def do_POST(self):
        path, p = urlsplit(self.path).path, self.params()
        n = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(n) if n else b""
        try:
            if path == "/objects":
                doc = json.loads(body)
                objs = doc["items"] if doc.get("kind") == "List" else [doc]
                rv = 0
                for o in objs:
                    rv = STORE.put(o)
                return self.reply(200, str(rv))
            with STORE.cond:
                if path == "/compact":
                    pass
                elif path == "/break":
                    STORE.partial = p.get("partial") == "1"
                    STORE.break_gen += 1
                elif path == "/bookmark":
                    STORE.bookmark_gen += 1
                elif path == "/down":
                    STORE.down = int(p.get("code", "503"))
                elif path == "/up":
                    STORE.down = 0
                elif path == "/fail":
                    STORE.fail[p["resource"]] = [int(p.get("code", "500")), int(p.get("count", "1"))]
                elif path == "/tokens":
                    STORE.tokens = set(t for t in p.get("set", "").split(",") if t)
                elif path == "/max-page":
                    STORE.max_page = int(p.get("n", "0"))
                elif path == "/split":
                    STORE.split = int(p.get("bytes", "0"))
                elif path == "/watch-timeout":
                    STORE.watch_timeout = int(p.get("seconds", "0"))
                else:
                    return self.reply(404, "no such control")
                STORE.cond.notify_all()
            if path == "/compact":
                STORE.compact(p.get("expire") == "1")
            return self.reply(200, "ok")
        except (ValueError, KeyError) as e:
            return self.reply(400, "bad request: %s" % e)

    def do_DELETE(self):
        parts = urlsplit(self.path).path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "objects" or parts[1] not in RESOURCES:
            return self.reply(400, "DELETE /objects/RES/NS/NAME")
        rv = STORE.delete(parts[1], parts[2], parts[3])
        if rv is None:
            return self.reply(404, "no such object")
        self.reply(200, str(rv))


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ctx):
        host, port = addr
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(addr, Api)
        # the handshake happens in the connection's own thread, not in accept()
        self.socket = ctx.wrap_socket(self.socket, server_side=True,
                                      do_handshake_on_connect=False)


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    global STORE, ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", required=True, help="HOST:PORT")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca", help="accept client certificates this CA signed")
    ap.add_argument("--token", action="append", default=[], help="an accepted bearer token")
    ap.add_argument("--control", required=True, help="the control Unix socket")
    ap.add_argument("--max-page", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    ARGS = ap.parse_args()
    STORE = Store(ARGS.token)
    STORE.max_page = ARGS.max_page

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    ctx.set_alpn_protocols(["http/1.1"])
    if ARGS.client_ca:
        ctx.load_verify_locations(ARGS.client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    host, port = ARGS.listen.rsplit(":", 1)
    api = TLSServer((host.strip("[]"), int(port)), ctx)

    if os.path.exists(ARGS.control):
        os.unlink(ARGS.control)
    ctl = ControlServer(ARGS.control, Control)
    threading.Thread(target=ctl.serve_forever, daemon=True).start()
    sys.stderr.write("fake-apiserver: serving https://%s, control %s\n" % (ARGS.listen, ARGS.control))
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
