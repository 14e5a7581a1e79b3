"""In-process sigstore-python verification throughput on the keyless public-good happy paths."""
import sys, time, json, hashlib
from pathlib import Path
from sigstore.models import Bundle, ClientTrustConfig
from sigstore.verify import Verifier
from sigstore.verify.policy import Identity

data = Path(sys.argv[1]); seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
ID = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
ISS = "https://token.actions.githubusercontent.com"
tc = ClientTrustConfig.from_json(Path(sys.argv[3]).read_text())
verifier = Verifier(trusted_root=tc.trusted_root)
policy = Identity(identity=ID, issuer=ISS)
a = (data / "conformance/a.txt").read_bytes()
cases = []
for name in ["happy-path-v0.1", "happy-path-v0.2", "happy-path-v0.3", "happy-path-v0.3-new-mediaType", "happy-path-intoto-in-dsse-v3"]:
    d = data / "conformance/bundle-verify" / name
    art = (d / "artifact").read_bytes() if (d / "artifact").exists() else a
    cases.append((name, (d / "bundle.sigstore.json").read_text(), art))
ok = []
for name, js, art in cases:
    try:
        b = Bundle.from_json(js)
        if b._dsse_envelope is not None:
            verifier.verify_dsse(b, policy)
        else:
            verifier.verify_artifact(art, b, policy)
        ok.append((name, js, art))
    except Exception as e:
        print(f"sigstore-python cannot verify {name}: {type(e).__name__}: {e}", file=sys.stderr)
n = 0; start = time.perf_counter()
while time.perf_counter() - start < seconds:
    for name, js, art in ok:
        b = Bundle.from_json(js)
        if b._dsse_envelope is not None:
            verifier.verify_dsse(b, policy)
        else:
            verifier.verify_artifact(art, b, policy)
        n += 1
rate = n / (time.perf_counter() - start)
print(json.dumps({"bundles_per_second": rate, "cases": len(ok)}))
