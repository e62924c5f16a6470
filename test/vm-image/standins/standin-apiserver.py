#!/usr/bin/python3
"""kube-apiserver stand-in (nodegen test image only): what the bootstrap program, haproxy and
keepalived ask of an API server, over TLS with the serving certificate the kubeadm stand-in issued
from the cluster CA nodegen placed.

  GET /livez                 "ok" while the process runs
  GET /readyz, /healthz      "ok" while the local etcd member answers /health (as the real API
                             server's etcd check), else 500
  GET /standin/etcd-members  the etcd cluster's client URLs, one per line (the real kubeadm reads them
                             from the control-plane pods' annotations through the API)
  GET /standin/cluster-ca    the cluster CA certificate (the real one is in the cluster-info ConfigMap)

Usage: standin-apiserver.py BIND_ADDRESS PORT CERT KEY CLUSTER_CA ETCD_CA ETCD_CERT ETCD_KEY
"""
import http.client
import http.server
import json
import ssl
import sys
import threading
import time

bind, port, cert, key, cluster_ca, etcd_ca, etcd_cert, etcd_key = sys.argv[1:9]
ETCD = "https://127.0.0.1:2379"

etcd_ctx = ssl.create_default_context(cafile=etcd_ca)
etcd_ctx.load_cert_chain(etcd_cert, etcd_key)
cache = {"at": 0.0, "ok": False}


lock = threading.Lock()
conn = {"c": None}


def etcd(path, body=None):
    # One kept-alive TLS connection: under emulation a handshake per request costs the VM dearly.
    with lock:
        for attempt in (0, 1):
            if conn["c"] is None:
                conn["c"] = http.client.HTTPSConnection("127.0.0.1", 2379, context=etcd_ctx, timeout=3)
            try:
                conn["c"].request("POST" if body is not None else "GET", path, body=body)
                r = conn["c"].getresponse()
                data = r.read()
                if r.status != 200:
                    raise OSError("etcd %s: HTTP %d" % (path, r.status))
                return json.loads(data)
            except Exception:
                conn["c"].close()
                conn["c"] = None
                if attempt:
                    raise


def etcd_healthy():
    now = time.monotonic()
    if now - cache["at"] > 2:
        try:
            cache["ok"] = etcd("/health").get("health") == "true"
        except Exception:
            cache["ok"] = False
        cache["at"] = now
    return cache["ok"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def reply(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        p = self.path.split("?")[0]
        if p == "/livez":
            return self.reply(200, "ok")
        if p in ("/readyz", "/healthz"):
            return self.reply(200, "ok") if etcd_healthy() else self.reply(500, "[-]etcd failed: not healthy")
        if p == "/standin/etcd-members":
            try:
                members = etcd("/v3/cluster/member/list", b"{}").get("members", [])
            except Exception as e:
                return self.reply(503, "etcd: %s" % e)
            urls = [u for m in members for u in m.get("clientURLs", [])]
            return self.reply(200, "".join(u + "\n" for u in urls))
        if p == "/standin/cluster-ca":
            return self.reply(200, open(cluster_ca).read())
        return self.reply(404, "not found")

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True


srv = Server((bind, int(port)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
# The handshake happens in each request's thread, so one slow client never blocks the others.
srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
srv.serve_forever()
