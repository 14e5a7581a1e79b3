// Verifies a certificate-signed (keyless) Sigstore bundle with @sigstore/verify against a trusted
// root naming the CA, the CT log, the transparency log and the timestamp authority:
// node verify_keyless.js BUNDLE ARTIFACT TRUSTED_ROOT SAN ISSUER TSA_THRESHOLD.
// Requires one log entry and one SCT (thresholds 1), and TSA_THRESHOLD timestamps.
'use strict';
const fs = require('fs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const [bundlePath, artifactPath, rootPath, san, issuer, tsa] = process.argv.slice(2);
const json = JSON.parse(fs.readFileSync(bundlePath, 'utf8'));
const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8')));
const verifier = new Verifier(toTrustMaterial(root), {
  tlogThreshold: 1, ctlogThreshold: 1, tsaThreshold: Number(tsa || 0),
});
try {
  const signer = verifier.verify(toSignedEntity(bundleFromJSON(json), fs.readFileSync(artifactPath)), {
    subjectAlternativeName: san, extensions: { issuer },
  });
  console.log('OK', signer.identity ? JSON.stringify(signer.identity) : '');
} catch (e) {
  console.error(`${e.code || e.name}: ${e.message}`);
  process.exit(1);
}
