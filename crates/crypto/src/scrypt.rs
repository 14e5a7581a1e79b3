//! scrypt (RFC 7914) with a bounded working set.
//!
//! cosign key files use N = 2^16, r = 8, whose ROMix table is 128·r·N = 64 MiB. ROMix only ever
//! reads table entry `V[j]`, which is `BlockMix` applied `j mod k` times to the stored entry
//! `V[j - j mod k]`; so keeping every k-th entry and recomputing the rest gives the same output
//! with 1/k of the memory, at (1 + (k-1)/2)/2 more BlockMix calls in the second loop. Sigil keeps
//! the table within [`MAX_TABLE_BYTES`] (32 MiB: k = 2 for N = 2^16, k = 4 for 2^17), which keeps
//! `sign-blob` under 64 MiB peak memory for every key file cosign writes.
//!
//! PBKDF2-HMAC-SHA256 comes from aws-lc-rs; Salsa20/8 and BlockMix are here. Output is checked
//! against the RFC 7914 vectors and, differentially, against the `scrypt` crate.

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use zeroize::Zeroizing;

/// Largest ROMix table kept in memory.
pub const MAX_TABLE_BYTES: usize = 32 * 1024 * 1024;

/// Invalid scrypt parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid scrypt parameters (N must be a power of two > 1 and at most 2^24, 1 <= r <= 32, 1 <= p <= 16)"
)]
pub struct InvalidParams;

/// Derives `out.len()` bytes: scrypt(password, salt, N, r, p).
pub fn scrypt(
    password: &[u8],
    salt: &[u8],
    n: u64,
    r: u32,
    p: u32,
    out: &mut [u8],
) -> Result<(), InvalidParams> {
    if n < 2
        || !n.is_power_of_two()
        || n > 1 << 24
        || !(1..=32).contains(&r)
        || !(1..=16).contains(&p)
    {
        return Err(InvalidParams);
    }
    if out.is_empty() {
        return Err(InvalidParams);
    }
    let (n, r, p) = (n as usize, r as usize, p as usize);
    let block_bytes = 128 * r;
    let one = NonZeroU32::MIN;
    let mut b = Zeroizing::new(vec![0u8; p * block_bytes]);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, one, salt, password, &mut b);
    for chunk in b.chunks_mut(block_bytes) {
        romix(chunk, n, r);
    }
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, one, &b, password, out);
    Ok(())
}

/// The stride k: the smallest power of two that keeps the table within [`MAX_TABLE_BYTES`].
fn stride(n: usize, r: usize) -> usize {
    let full = n * 128 * r;
    let mut k = 1;
    while full / k > MAX_TABLE_BYTES && k < n {
        k *= 2;
    }
    k
}

fn romix(block: &mut [u8], n: usize, r: usize) {
    let words = 32 * r;
    let k = stride(n, r);
    let mut x = Zeroizing::new(vec![0u32; words]);
    for (w, c) in x.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    let mut v = Zeroizing::new(vec![0u32; (n / k) * words]);
    let mut tmp = Zeroizing::new(vec![0u32; words]);
    for i in 0..n {
        if i % k == 0 {
            v[(i / k) * words..][..words].copy_from_slice(&x);
        }
        block_mix(&x, &mut tmp, r);
        std::mem::swap(&mut x, &mut tmp);
    }
    let mut t = Zeroizing::new(vec![0u32; words]);
    let mut t2 = Zeroizing::new(vec![0u32; words]);
    for _ in 0..n {
        // Integerify: the first word of the last 64-byte block, mod N (N <= 2^24 fits a u32).
        let j = x[(2 * r - 1) * 16] as usize & (n - 1);
        t.copy_from_slice(&v[(j / k) * words..][..words]);
        for _ in 0..(j % k) {
            block_mix(&t, &mut t2, r);
            std::mem::swap(&mut t, &mut t2);
        }
        for (a, b) in x.iter_mut().zip(t.iter()) {
            *a ^= b;
        }
        block_mix(&x, &mut tmp, r);
        std::mem::swap(&mut x, &mut tmp);
    }
    for (c, w) in block.chunks_exact_mut(4).zip(x.iter()) {
        c.copy_from_slice(&w.to_le_bytes());
    }
}

/// BlockMix with Salsa20/8: `input` and `output` are 2r 64-byte blocks as little-endian words.
fn block_mix(input: &[u32], output: &mut [u32], r: usize) {
    let mut x = [0u32; 16];
    x.copy_from_slice(&input[(2 * r - 1) * 16..2 * r * 16]);
    for i in 0..2 * r {
        for (a, b) in x.iter_mut().zip(&input[i * 16..i * 16 + 16]) {
            *a ^= b;
        }
        salsa20_8(&mut x);
        // Even-indexed results go to the first half, odd-indexed to the second.
        let dst = if i % 2 == 0 { i / 2 } else { r + i / 2 };
        output[dst * 16..dst * 16 + 16].copy_from_slice(&x);
    }
}

/// The Salsa20/8 core (RFC 7914 §3): 8 rounds, then the input is added back.
fn salsa20_8(b: &mut [u32; 16]) {
    let mut x = *b;
    let mut quarter = |a: usize, b: usize, c: usize, d: usize| {
        x[b] ^= x[a].wrapping_add(x[d]).rotate_left(7);
        x[c] ^= x[b].wrapping_add(x[a]).rotate_left(9);
        x[d] ^= x[c].wrapping_add(x[b]).rotate_left(13);
        x[a] ^= x[d].wrapping_add(x[c]).rotate_left(18);
    };
    for _ in 0..4 {
        // Columns.
        quarter(0, 4, 8, 12);
        quarter(5, 9, 13, 1);
        quarter(10, 14, 2, 6);
        quarter(15, 3, 7, 11);
        // Rows.
        quarter(0, 1, 2, 3);
        quarter(5, 6, 7, 4);
        quarter(10, 11, 8, 9);
        quarter(15, 12, 13, 14);
    }
    for (out, add) in b.iter_mut().zip(x) {
        *out = out.wrapping_add(add);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        crate::hash::hex_decode(s).unwrap()
    }

    #[test]
    fn rfc7914_vectors() {
        let mut out = [0u8; 64];
        scrypt(b"", b"", 16, 1, 1, &mut out).unwrap();
        assert_eq!(
            out.to_vec(),
            hex(
                "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
            )
        );
        scrypt(b"password", b"NaCl", 1024, 8, 16, &mut out).unwrap();
        assert_eq!(
            out.to_vec(),
            hex(
                "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
            )
        );
    }

    #[test]
    fn stride_keeps_the_table_bounded() {
        assert_eq!(stride(32768, 8), 1);
        assert_eq!(stride(65536, 8), 2);
        assert_eq!(stride(131072, 8), 4);
        assert_eq!(stride(16, 1), 1);
    }

    #[test]
    fn strided_table_gives_the_same_output_as_the_scrypt_crate() {
        // Small N with a forced stride through a tiny budget would need another code path, so
        // compare at the real cosign sizes where the stride is 2 and 4.
        for (log_n, r) in [(15u8, 8u32), (16, 8), (17, 8)] {
            let mut ours = [0u8; 32];
            scrypt(
                b"hello",
                b"salt-salt-salt-salt",
                1 << log_n,
                r,
                1,
                &mut ours,
            )
            .unwrap();
            let params = ::scrypt::Params::new(log_n, r, 1).unwrap();
            let mut theirs = [0u8; 32];
            ::scrypt::scrypt(b"hello", b"salt-salt-salt-salt", &params, &mut theirs).unwrap();
            assert_eq!(ours, theirs, "N=2^{log_n}");
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        let mut out = [0u8; 32];
        assert_eq!(scrypt(b"", b"", 1000, 8, 1, &mut out), Err(InvalidParams));
        assert_eq!(scrypt(b"", b"", 1024, 0, 1, &mut out), Err(InvalidParams));
        assert_eq!(scrypt(b"", b"", 1024, 8, 1, &mut []), Err(InvalidParams));
    }
}
