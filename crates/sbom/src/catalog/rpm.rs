//! RPM databases in SQLite form (`rpmdb.sqlite`, RPM ≥ 4.16): each row of `Packages` is one
//! package header blob, read here with bounds checks on every index entry.

use super::{Ctx, ParseError};
use crate::{Distro, Ecosystem, License, Package, purl};

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TAG_PROVIDENAME: u32 = 1047;
const TAG_REQUIRENAME: u32 = 1049;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Headers larger than this are refused (RPM's own limit is 256 MiB; real ones are KiBs).
const MAX_HEADER: usize = 64 << 20;

/// A parsed header: the values of the tags we read.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Header {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<u32>,
    pub license: String,
    pub arch: String,
    pub source_rpm: String,
    pub provides: Vec<String>,
    pub requires: Vec<String>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses a header blob as the database stores it (index count, data length, index, data).
pub(crate) fn parse_header(blob: &[u8]) -> Result<Header, String> {
    if blob.len() > MAX_HEADER {
        return Err(format!("header of {} bytes is over the limit", blob.len()));
    }
    let il = be32(blob, 0).ok_or("header shorter than 8 bytes")? as usize;
    let dl = be32(blob, 4).ok_or("header shorter than 8 bytes")? as usize;
    let index_end = il
        .checked_mul(16)
        .and_then(|n| n.checked_add(8))
        .filter(|&n| n <= blob.len())
        .ok_or("index runs past the end of the header")?;
    let data = blob
        .get(index_end..index_end.checked_add(dl).ok_or("data length overflows")?)
        .ok_or("data runs past the end of the header")?;
    let mut h = Header::default();
    for i in 0..il {
        let e = 8 + i * 16;
        let (Some(tag), Some(ty), Some(off), Some(count)) = (
            be32(blob, e),
            be32(blob, e + 4),
            be32(blob, e + 8),
            be32(blob, e + 12),
        ) else {
            return Err("truncated index entry".into());
        };
        let off = off as usize;
        if off > data.len() {
            return Err(format!("tag {tag}: offset {off} past the data"));
        }
        let strings = |n: usize| -> Result<Vec<String>, String> {
            let mut out = Vec::new();
            let mut at = off;
            for _ in 0..n.min(1 << 20) {
                let rest = data.get(at..).ok_or("string past the data")?;
                let end = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or("unterminated string")?;
                out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
                at += end + 1;
            }
            Ok(out)
        };
        let one =
            || -> Result<String, String> { Ok(strings(1)?.into_iter().next().unwrap_or_default()) };
        match (tag, ty) {
            (TAG_NAME, TYPE_STRING | TYPE_I18NSTRING) => h.name = one()?,
            (TAG_VERSION, TYPE_STRING) => h.version = one()?,
            (TAG_RELEASE, TYPE_STRING) => h.release = one()?,
            (TAG_LICENSE, TYPE_STRING | TYPE_I18NSTRING) => h.license = one()?,
            (TAG_ARCH, TYPE_STRING) => h.arch = one()?,
            (TAG_SOURCERPM, TYPE_STRING) => h.source_rpm = one()?,
            (TAG_EPOCH, TYPE_INT32) if count >= 1 => {
                h.epoch = Some(be32(data, off).ok_or("epoch past the data")?);
            }
            (TAG_PROVIDENAME, TYPE_STRING_ARRAY) => h.provides = strings(count as usize)?,
            (TAG_REQUIRENAME, TYPE_STRING_ARRAY) => h.requires = strings(count as usize)?,
            _ => {}
        }
    }
    if h.name.is_empty() || h.version.is_empty() {
        return Err("header has no name or version".into());
    }
    Ok(h)
}

pub(super) fn parse(ctx: &Ctx<'_>, data: &[u8]) -> Result<Vec<Package>, ParseError> {
    if !data.starts_with(b"SQLite format 3\0") {
        return Err(ParseError::new(None, "not an SQLite database"));
    }
    // SQLite reads files, so the bytes go to a private temporary file first (as go-rpmdb does).
    let tmp = tempfile::NamedTempFile::new()
        .map_err(|e| ParseError::new(None, format!("temporary file: {e}")))?;
    std::fs::write(tmp.path(), data)
        .map_err(|e| ParseError::new(None, format!("temporary file: {e}")))?;
    // Changes not yet checkpointed live in the write-ahead log beside the database; SQLite
    // applies it when it sits beside our copy under the same name.
    let wal_copy = match ctx.tree.read(&format!("{}-wal", ctx.path)) {
        Ok(Some(wal)) if !wal.is_empty() => {
            let p = format!("{}-wal", tmp.path().display());
            std::fs::write(&p, wal)
                .map_err(|e| ParseError::new(None, format!("temporary file: {e}")))?;
            Some(p)
        }
        _ => None,
    };
    let blobs = read_blobs(tmp.path(), wal_copy.is_some());
    if let Some(p) = &wal_copy {
        let _ = std::fs::remove_file(p);
        let _ = std::fs::remove_file(format!("{}-shm", tmp.path().display()));
    }
    let blobs = blobs.map_err(|e| ParseError::new(None, format!("SQLite: {e}")))?;
    let distro_id = ctx.distro.map_or("redhat", |d| d.id.as_str()).to_owned();
    let distro_q = ctx.distro.map(Distro::qualifier).unwrap_or_default();
    let mut headers = Vec::new();
    for (id, blob) in blobs {
        match parse_header(&blob) {
            Ok(h) if h.name.starts_with("gpg-pubkey") => {}
            Ok(h) => headers.push(h),
            Err(e) => return Err(ParseError::new(None, format!("package row {id}: {e}"))),
        }
    }
    let purl_of = |h: &Header| {
        let epoch = h.epoch.map(|e| e.to_string()).unwrap_or_default();
        // The source package's name, when it differs: "glibc-2.39-1.fc40.src.rpm" → "glibc".
        let src_nvr = h.source_rpm.strip_suffix(".src.rpm").unwrap_or("");
        let src = src_nvr.rsplitn(3, '-').nth(2).unwrap_or("");
        let src = if src == h.name { "" } else { src };
        purl::build(
            "rpm",
            Some(&distro_id),
            &h.name,
            &format!("{}-{}", h.version, h.release),
            &[
                ("arch", &h.arch),
                ("distro", &distro_q),
                ("epoch", &epoch),
                ("upstream", src),
            ],
        )
    };
    let mut provider = std::collections::HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        for p in &h.provides {
            provider.entry(p.as_str()).or_insert(i);
        }
    }
    Ok(headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut p = Package::new(
                Ecosystem::Rpm,
                &h.name,
                &format!("{}-{}", h.version, h.release),
                purl_of(h),
            );
            p.license =
                License::parse(&h.license.replace(" and ", " AND ").replace(" or ", " OR "));
            let mut deps: Vec<usize> = h
                .requires
                .iter()
                .filter_map(|r| provider.get(r.as_str()).copied())
                .filter(|&j| j != i)
                .collect();
            deps.sort_unstable();
            deps.dedup();
            p.depends_on = deps.into_iter().map(|j| purl_of(&headers[j])).collect();
            p
        })
        .collect())
}

fn read_blobs(path: &std::path::Path, with_wal: bool) -> rusqlite::Result<Vec<(i64, Vec<u8>)>> {
    use rusqlite::OpenFlags;
    // Applying a WAL needs write access (to our private copy only).
    let access = if with_wal {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    };
    let conn =
        rusqlite::Connection::open_with_flags(path, access | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let mut stmt = conn.prepare("SELECT hnum, blob FROM Packages")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(entries: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        for (tag, ty, bytes, count) in entries {
            index.extend(tag.to_be_bytes());
            index.extend(ty.to_be_bytes());
            index.extend((data.len() as u32).to_be_bytes());
            index.extend(count.to_be_bytes());
            data.extend_from_slice(bytes);
        }
        let mut out = Vec::new();
        out.extend((entries.len() as u32).to_be_bytes());
        out.extend((data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn header_blobs() {
        let h = header(&[
            (TAG_NAME, TYPE_STRING, b"bash\0", 1),
            (TAG_VERSION, TYPE_STRING, b"5.2\0", 1),
            (TAG_RELEASE, TYPE_STRING, b"1.fc40\0", 1),
            (TAG_EPOCH, TYPE_INT32, &2u32.to_be_bytes(), 1),
            (TAG_REQUIRENAME, TYPE_STRING_ARRAY, b"libc.so.6\0glibc\0", 2),
        ]);
        let p = parse_header(&h).unwrap();
        assert_eq!(
            (p.name.as_str(), p.epoch, p.requires.len()),
            ("bash", Some(2), 2)
        );
        // Every truncation is an error, never a panic.
        for n in 0..h.len() {
            assert!(parse_header(&h[..n]).is_err(), "{n}");
        }
        let mut bad = h.clone();
        bad[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_header(&bad).is_err());
    }
}
