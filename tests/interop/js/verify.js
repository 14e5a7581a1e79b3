// Verifies a key-signed Sigstore bundle written by Sigil with @sigstore/verify (the sigstore-js
// verifier), offline: node verify.js BUNDLE ARTIFACT PUBLIC_KEY_PEM. Prints OK or the error.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const [bundlePath, artifactPath, pemPath] = process.argv.slice(2);
const json = JSON.parse(fs.readFileSync(bundlePath, 'utf8'));
const der = crypto.createPublicKey(fs.readFileSync(pemPath)).export({ type: 'spki', format: 'der' });
const hint = json.verificationMaterial.publicKey.hint;
// No logs, CAs or TSAs: a key-signed bundle without a log entry (thresholds 0).
const root = TrustedRoot.fromJSON({
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [],
});
const verifier = new Verifier(toTrustMaterial(root, { [hint]: { rawBytes: der } }), {
  tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0,
});
try {
  verifier.verify(toSignedEntity(bundleFromJSON(json), fs.readFileSync(artifactPath)));
  console.log('OK');
} catch (e) {
  console.error(`${e.code || e.name}: ${e.message}`);
  process.exit(1);
}
