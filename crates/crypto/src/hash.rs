//! Streaming digests (SHA-256, SHA-384, SHA-512) over aws-lc-rs.
//!
//! Files are hashed in one pass through a fixed buffer, so memory does not grow with the input.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use aws_lc_rs::digest;

/// The buffer used when hashing a reader: large enough to amortise system calls, small enough
/// that parallel hashing of many files stays far below the memory budget.
pub const READ_BUFFER_SIZE: usize = 256 * 1024;

/// A hash function Sigil computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SHA-384 (FIPS 180-4).
    Sha384,
    /// SHA-512 (FIPS 180-4).
    Sha512,
}

impl HashAlgorithm {
    /// Every algorithm, in ascending output size.
    pub const ALL: [HashAlgorithm; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    /// The lower-case name used on the command line and in checksum files: `sha256`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// The name in Sigstore's protobuf `HashAlgorithm` enum: `SHA2_256`.
    pub fn sigstore_name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA2_256",
            Self::Sha384 => "SHA2_384",
            Self::Sha512 => "SHA2_512",
        }
    }

    /// Parses a Sigstore protobuf name (`SHA2_256`, ...).
    pub fn from_sigstore_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.sigstore_name() == name)
    }

    /// The tag BSD-style checksum lines use: `SHA256`.
    pub fn bsd_tag(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA256",
            Self::Sha384 => "SHA384",
            Self::Sha512 => "SHA512",
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The algorithm whose hex digest has this many characters, if any.
    pub fn from_hex_len(len: usize) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.output_len() * 2 == len)
    }

    pub(crate) fn lc(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an unknown hash algorithm name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm {0:?}: expected sha256, sha384 or sha512")]
pub struct UnknownHashAlgorithm(pub String);

impl FromStr for HashAlgorithm {
    type Err = UnknownHashAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|a| a.name() == lower || a.sigstore_name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownHashAlgorithm(s.to_owned()))
    }
}

/// A finished digest: the algorithm and its output bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: HashAlgorithm,
    bytes: [u8; 64],
}

impl Digest {
    /// Wraps digest bytes computed elsewhere (for example read from a bundle or checksum file).
    /// Returns `None` when the length does not fit the algorithm.
    pub fn from_bytes(algorithm: HashAlgorithm, bytes: &[u8]) -> Option<Self> {
        if bytes.len() != algorithm.output_len() {
            return None;
        }
        let mut out = [0u8; 64];
        out[..bytes.len()].copy_from_slice(bytes);
        Some(Self {
            algorithm,
            bytes: out,
        })
    }

    /// Hashes a byte slice in memory.
    pub fn of(algorithm: HashAlgorithm, data: &[u8]) -> Self {
        let mut h = Hasher::new(algorithm);
        h.update(data);
        h.finish()
    }

    /// The algorithm that produced this digest.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.output_len()]
    }

    /// Lower-case hex of the digest bytes.
    pub fn to_hex(&self) -> String {
        hex_lower(self.as_bytes())
    }

    pub(crate) fn to_lc(&self) -> digest::Digest {
        // The length always matches the algorithm (checked at construction), so this cannot fail.
        digest::Digest::import_less_safe(self.as_bytes(), self.algorithm.lc())
            .unwrap_or_else(|_| unreachable!("digest length is checked on construction"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.to_hex())
    }
}

/// SHA-256 of the concatenation of `parts`, for many small messages (Merkle nodes): the
/// `sha2` implementation (SHA-NI where the CPU has it) without a digest context allocation.
pub fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Lower-case hex without allocation per byte.
pub fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xf) as usize] as char);
    }
    s
}

/// Decodes hex (either case): `None` for an odd length or any character that is not a hex digit
/// (a sign included, unlike `u8::from_str_radix`).
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// An incremental hash computation.
#[derive(Clone)]
pub struct Hasher {
    algorithm: HashAlgorithm,
    ctx: digest::Context,
}

impl Hasher {
    /// Starts a new computation.
    pub fn new(algorithm: HashAlgorithm) -> Self {
        Self {
            algorithm,
            ctx: digest::Context::new(algorithm.lc()),
        }
    }

    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// Finishes the computation.
    pub fn finish(self) -> Digest {
        let d = self.ctx.finish();
        Digest::from_bytes(self.algorithm, d.as_ref())
            .unwrap_or_else(|| unreachable!("aws-lc-rs returns the algorithm's output length"))
    }
}

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hashes everything `reader` yields, calling `progress` with the byte count of each chunk.
///
/// Memory use is one [`READ_BUFFER_SIZE`] buffer whatever the input size.
pub fn hash_reader<R: Read>(
    algorithm: HashAlgorithm,
    reader: R,
    progress: impl FnMut(u64),
) -> io::Result<Digest> {
    let mut out = hash_reader_multi(&[algorithm], reader, progress)?;
    Ok(out.remove(0))
}

/// Hashes one stream with several algorithms in one pass (used when a verifier must accept
/// either of two hashes, e.g. SHA-384 and the legacy SHA-256 for P-384 keys).
pub fn hash_reader_multi<R: Read>(
    algorithms: &[HashAlgorithm],
    mut reader: R,
    mut progress: impl FnMut(u64),
) -> io::Result<Vec<Digest>> {
    let mut hashers: Vec<Hasher> = algorithms.iter().map(|a| Hasher::new(*a)).collect();
    let mut buf = vec![0u8; READ_BUFFER_SIZE];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for h in &mut hashers {
            h.update(&buf[..n]);
        }
        progress(n as u64);
    }
    Ok(hashers.into_iter().map(Hasher::finish).collect())
}

/// Whether `a` and `b` are equal, in time that depends on neither (both are hashed first, so
/// their lengths do not show either): for comparing secrets such as bearer tokens.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (x, y) = (
        Digest::of(HashAlgorithm::Sha256, a),
        Digest::of(HashAlgorithm::Sha256, b),
    );
    x.as_bytes()
        .iter()
        .zip(y.as_bytes())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // FIPS 180-4 examples for "abc".
        assert_eq!(
            Digest::of(HashAlgorithm::Sha256, b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Digest::of(HashAlgorithm::Sha384, b"abc").to_hex(),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
        );
        assert_eq!(
            Digest::of(HashAlgorithm::Sha512, b"abc").to_hex(),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    #[test]
    fn streaming_equals_one_shot_across_buffer_boundaries() {
        let data: Vec<u8> = (0..(READ_BUFFER_SIZE * 2 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut seen = 0u64;
        let d = hash_reader(HashAlgorithm::Sha256, &data[..], |n| seen += n).unwrap();
        assert_eq!(d, Digest::of(HashAlgorithm::Sha256, &data));
        assert_eq!(seen, data.len() as u64);
    }

    #[test]
    fn names_parse_both_spellings() {
        assert_eq!(
            "SHA2_384".parse::<HashAlgorithm>().unwrap(),
            HashAlgorithm::Sha384
        );
        assert_eq!(
            "sha512".parse::<HashAlgorithm>().unwrap(),
            HashAlgorithm::Sha512
        );
        assert_eq!(
            "md5".parse::<HashAlgorithm>().unwrap_err(),
            UnknownHashAlgorithm("md5".into())
        );
    }

    #[test]
    fn hex_round_trip_and_strictness() {
        assert_eq!(
            hex_decode(&hex_lower(&[0, 0xab, 0xff])),
            Some(vec![0, 0xab, 0xff])
        );
        assert_eq!(hex_decode("ABcd"), Some(vec![0xab, 0xcd]));
        for bad in ["a", "+f", "0g", "-1", " 1"] {
            assert_eq!(hex_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn from_bytes_checks_length() {
        assert!(Digest::from_bytes(HashAlgorithm::Sha256, &[0; 31]).is_none());
        assert!(Digest::from_bytes(HashAlgorithm::Sha256, &[0; 32]).is_some());
    }
}
