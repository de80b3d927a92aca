#!/usr/bin/env python3
"""The token server of the test registry (scripts/registry.sh): the realm of a
real docker-registry configured with `auth: token:`, on a loopback port.

    registry-token-server.py KEY CERT PORT_FILE USER PASSWORD_FILE ISSUER

GET /token?service=S&scope=repository:NAME:pull with HTTP Basic USER and the
password in PASSWORD_FILE answers {"token": JWT, "expires_in": 300}; the JWT
is RS256-signed with KEY (by the openssl CLI: no Python packages needed) and
names CERT in its `x5c` header, which the registry trusts through its
`rootcertbundle`. Only `pull` is granted. Without or with wrong credentials:
401 with a Basic challenge. Writes its port to PORT_FILE when listening.
"""

import base64
import http.server
import json
import os
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlparse

key, cert, port_file, user, password_file, issuer = sys.argv[1:7]
with open(password_file) as f:
    password = f.read().strip()
expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
der = subprocess.run(
    ["openssl", "x509", "-in", cert, "-outform", "DER"], capture_output=True, check=True
).stdout


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(data: bytes) -> bytes:
    return subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", key], input=data, capture_output=True, check=True
    ).stdout


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/token":
            self.answer(404, b"")
            return
        if self.headers.get("Authorization", "") != expected:
            self.answer(401, b'{"details":"credentials required"}', 'Basic realm="vouch-test-token"')
            return
        query = parse_qs(url.query)
        access = []
        for scope in query.get("scope", []):
            parts = scope.split(":")
            if len(parts) == 3:
                actions = [a for a in parts[2].split(",") if a == "pull"]
                access.append({"type": parts[0], "name": parts[1], "actions": actions})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        claims = {
            "iss": issuer,
            "sub": user,
            "aud": query.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        signing = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        token = signing.decode() + "." + b64url(sign(signing))
        self.answer(200, json.dumps({"token": token, "expires_in": 300}).encode())

    def answer(self, status, body, challenge=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if challenge:
            self.send_header("WWW-Authenticate", challenge)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(f"{server.server_address[1]}\n")
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
