//! The log client's answers as a hostile log would send them: entries (get, upload, retrieve),
//! the log's info, consistency proofs and a monitor's state file, each parsed and, where it
//! parses, verified with a fixed log key. Nothing may panic; every refusal is a typed error.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigil_rekor::client::{ConsistencyProof, LogInfo};
use sigil_rekor::entry::LogEntry;
use sigil_rekor::verify::{LogKey, MonitorState, verify_entry};

fn key() -> &'static LogKey {
    static KEY: OnceLock<LogKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let k = sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256)
            .expect("key");
        LogKey::new(k.public_key().clone())
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = LogEntry::parse_answer(data) {
        for e in entries {
            let _ = e.to_bundle_entry();
            let _ = e.uuid_matches_body();
            let _ = verify_entry(&e, key());
        }
    }
    let _ = LogInfo::parse(data);
    let _ = ConsistencyProof::parse(data);
    let _ = MonitorState::parse(data, key());
});
