//! cosign encrypted key files: parsing must never panic; a parsed file with the accepted
//! parameters is also decrypted (with a fixed password) to reach the PKCS#8 path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_crypto::keyfile::EncryptedKeyFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = EncryptedKeyFile::parse(data) {
        // scrypt is deliberately slow; decrypt only the cheapest accepted parameter set.
        if f.params().n == 32768 {
            let _ = f.decrypt(b"hello");
        }
    }
});
