//! CT submissions as the log reads them (`add-chain` and `add-pre-chain` bodies): the JSON,
//! the base64 certificates, and the chain check against a root that issued nothing here.
//! Nothing may panic, and no chain a fuzzer builds may end at that root.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn root() -> &'static sigil_pki::cert::Certificate {
    static R: OnceLock<sigil_pki::cert::Certificate> = OnceLock::new();
    R.get_or_init(|| {
        let key = sigil_crypto::SigningKey::generate(sigil_crypto::KeyAlgorithm::EcdsaP256)
            .expect("key");
        let name = sigil_pki::issue::name(&[("2.5.4.3", "fuzz root")]);
        let der = sigil_pki::issue::self_signed_ca(&key, &name, 1_780_000_000, 1, None)
            .expect("root");
        sigil_pki::cert::Certificate::from_der(&der).expect("root parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(chain) = sigil_server::log::ct::submitted_chain(data) else { return };
    let now = sigil_formats::time::Timestamp::from_unix(1_780_000_100);
    if let Ok(certs) = sigil_server::log::ct::check_chain(&chain, std::slice::from_ref(root()), now) {
        // Only the root itself can end an accepted chain a fuzzer made.
        assert_eq!(certs.last().map(|c| c.der()), Some(root().der()));
    }
});
