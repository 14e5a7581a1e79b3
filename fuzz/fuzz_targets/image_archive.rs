//! Image archives as `sigil sbom` reads them: `docker save` archives (`manifest.json`, the
//! config, layers) and OCI layouts in a tar. The first byte picks the form: even, the rest is
//! a whole archive (docker-archive when the second byte is even, oci-archive otherwise); odd,
//! the rest is `manifest.json`, `config.json` and `layer.tar` separated by `\n---\n`, packed
//! into a docker archive here, so the fuzzer works on the manifests rather than on tar headers.
//! Nothing may panic; every refusal is an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_sbom::{ScanOptions, Source};

fn pack(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        if b.append_data(&mut h, name, *data).is_err() {
            return Vec::new();
        }
    }
    b.into_inner().unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (archive, docker) = if mode % 2 == 0 {
        let Some((&kind, rest)) = rest.split_first() else { return };
        (rest.to_vec(), kind % 2 == 0)
    } else {
        let text = rest;
        let mut parts = Vec::new();
        let mut start = 0;
        let sep = b"\n---\n";
        let mut i = 0;
        while i + sep.len() <= text.len() && parts.len() < 2 {
            if &text[i..i + sep.len()] == sep {
                parts.push(&text[start..i]);
                i += sep.len();
                start = i;
            } else {
                i += 1;
            }
        }
        parts.push(&text[start..]);
        while parts.len() < 3 {
            parts.push(b"");
        }
        (
            pack(&[
                ("manifest.json", parts[0]),
                ("config.json", parts[1]),
                ("layer.tar", parts[2]),
            ]),
            true,
        )
    };
    let path = std::env::temp_dir().join(format!("sigil-fuzz-archive-{}.tar", std::process::id()));
    if std::fs::write(&path, &archive).is_err() {
        return;
    }
    let source = if docker {
        Source::DockerArchive(path.clone())
    } else {
        Source::OciArchive(path.clone(), None)
    };
    let opts = ScanOptions {
        threads: 1,
        max_file_size: 1 << 20,
        max_image_memory: 16 << 20,
        ..ScanOptions::default()
    };
    let _ = sigil_sbom::scan(&source, &opts);
});
