#!/usr/bin/env python3
"""A test OIDC issuer on loopback, written with PyJWT and cryptography (not Sigil's code):
discovery, a JWKS, and tokens minted on request. Prints its base URL on the first line.

GET /token?sub=S&aud=A&exp=SECONDS&nbf=SECONDS&kid=K&alg=A&iss=I&claims=JSON  -> a JWT
GET /rotate                                                                -> adds key k2
GET /stats                                                                 -> request counts
/mismatch/.well-known/openid-configuration names another issuer.
/PREFIX/.well-known/openid-configuration is the discovery of the issuer base/PREFIX (same keys),
so one process serves several issuers (mint with iss=base/PREFIX).
"""
import base64, json, sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives import serialization

keys = {"k1": ec.generate_private_key(ec.SECP256R1()), "r1": rsa.generate_private_key(65537, 2048)}
served = {"k1", "r1"}
stats = {"discovery": 0, "jwks": 0}
lock = threading.Lock()

def b64(n, length=None):
    b = n.to_bytes(length or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def jwk(kid, k):
    pub = k.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        nums = pub.public_numbers()
        return {"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256", "x": b64(nums.x, 32), "y": b64(nums.y, 32)}
    nums = pub.public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(nums.n), "e": b64(nums.e)}

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        base = f"http://127.0.0.1:{self.server.server_port}"
        if u.path == "/.well-known/openid-configuration":
            with lock:
                stats["discovery"] += 1
            return self.send(json.dumps({"issuer": base, "jwks_uri": base + "/jwks",
                                         "id_token_signing_alg_values_supported": ["RS256", "ES256"]}))
        if u.path == "/mismatch/.well-known/openid-configuration":
            return self.send(json.dumps({"issuer": "https://elsewhere.example", "jwks_uri": base + "/jwks"}))
        if u.path.endswith("/.well-known/openid-configuration"):
            with lock:
                stats["discovery"] += 1
            prefix = u.path[: -len("/.well-known/openid-configuration")]
            return self.send(json.dumps({"issuer": base + prefix, "jwks_uri": base + "/jwks",
                                         "id_token_signing_alg_values_supported": ["RS256", "ES256"]}))
        if u.path == "/jwks":
            with lock:
                stats["jwks"] += 1
                ks = [jwk(k, keys[k]) for k in sorted(served)]
            return self.send(json.dumps({"keys": ks}))
        if u.path == "/rotate":
            with lock:
                keys["k2"] = ec.generate_private_key(ec.SECP256R1())
                served.add("k2")
            return self.send("{}")
        if u.path == "/stats":
            with lock:
                return self.send(json.dumps(stats))
        if u.path == "/token":
            now = int(time.time())
            claims = {"iss": q.get("iss", base), "sub": q.get("sub", "system:serviceaccount:ci:builder"),
                      "aud": q.get("aud", "sigstore"), "iat": now, "exp": now + int(q.get("exp", "600"))}
            if "nbf" in q:
                claims["nbf"] = now + int(q["nbf"])
            claims.update(json.loads(q.get("claims", "{}")))
            kid = q.get("kid", "k1")
            alg = q.get("alg", "RS256" if kid.startswith("r") else "ES256")
            if alg == "none":
                token = jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
            elif alg == "HS256":
                # The confusion attack: the public key's PEM as the HMAC secret.
                # (PyJWT refuses to do it, so the token is put together by hand.)
                import hashlib, hmac
                secret = keys["r1"].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
                signing_input = enc({"alg": "HS256", "typ": "JWT", "kid": "r1"}) + "." + enc(claims)
                mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
                token = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
            else:
                signer = keys.get(kid) or ec.generate_private_key(ec.SECP256R1())
                token = jwt.encode(claims, signer, algorithm=alg, headers={"kid": kid})
            return self.send(token, "text/plain")
        self.send_response(404)
        self.end_headers()

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(f"http://127.0.0.1:{srv.server_port}", flush=True)
srv.serve_forever()
