//! The embedded log store's own files as read on start: an index manifest and an index run
//! (input: `manifest 0xff run`, or a run alone under a manifest that names it).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_store::runs::{IndexOptions, KeyIndex};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("sigil-fuzz-runs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let default: &[u8] = b"sigil key index 1\ncovered 5\nleaves 1\nsearch \n";
    let (manifest, run) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (default, data),
    };
    std::fs::write(dir.join("MANIFEST"), manifest).expect("write");
    std::fs::write(dir.join("00000001.run"), run).expect("write");
    let options = IndexOptions {
        flush_entries: 1 << 20,
        background: false,
    };
    if let Ok(index) = KeyIndex::open(&dir, options, false, []) {
        let _ = index.find_leaf(&[0; 16]);
        let _ = index.search(&[0xab; 16], 10);
        let _ = index.search_rows();
    }
});
