//! Checksum files: parse, and every parsed line must format back to a line that parses the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_formats::checksums;

fuzz_target!(|data: &[u8]| {
    if let Ok(lines) = checksums::parse(data) {
        for l in lines {
            let _ = checksums::check_relative_path(&l.path);
            let text = checksums::format_line(l.algorithm, &l.digest, &l.path);
            let again = checksums::parse(text.as_bytes()).expect("formatted line parses");
            assert_eq!(again[0].path, l.path);
            assert_eq!(again[0].digest, l.digest);
        }
    }
});
