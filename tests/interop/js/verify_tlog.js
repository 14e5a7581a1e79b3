// Verifies a key-signed Sigstore bundle that carries a transparency-log entry, with
// @sigstore/verify, against a trusted root that names the log (as `sigil trusted-root create`
// writes it): node verify_tlog.js BUNDLE ARTIFACT PUBLIC_KEY_PEM TRUSTED_ROOT.
// One log entry is required (tlogThreshold 1): its inclusion proof, checkpoint and SET.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const [bundlePath, artifactPath, pemPath, rootPath] = process.argv.slice(2);
const json = JSON.parse(fs.readFileSync(bundlePath, 'utf8'));
const der = crypto.createPublicKey(fs.readFileSync(pemPath)).export({ type: 'spki', format: 'der' });
const hint = json.verificationMaterial.publicKey.hint;
const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8')));
const verifier = new Verifier(toTrustMaterial(root, { [hint]: { rawBytes: der } }), {
  tlogThreshold: 1, ctlogThreshold: 0, tsaThreshold: 0,
});
try {
  verifier.verify(toSignedEntity(bundleFromJSON(json), fs.readFileSync(artifactPath)));
  console.log('OK');
} catch (e) {
  console.error(`${e.code || e.name}: ${e.message}`);
  process.exit(1);
}
