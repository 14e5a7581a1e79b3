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
    let wal = match ctx.tree.read(&format!("{}-wal", ctx.path)) {
        Ok(Some(wal)) if !wal.is_empty() => Some(wal),
        _ => None,
    };
    let db = PrivateCopy::new(data, wal.as_deref())
        .map_err(|e| ParseError::new(None, format!("temporary file: {e}")))?;
    let blobs = read_blobs(&db, Limits::default())?;
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

/// The database (and its write-ahead log, if any) copied into a fresh private directory
/// (mode 0700, a random name), since SQLite reads files: nothing of it, nor the `-wal` and
/// `-shm` files SQLite makes beside it, has a name anyone else can predict or reach. The
/// directory is removed when this is dropped.
struct PrivateCopy {
    dir: tempfile::TempDir,
    with_wal: bool,
}

impl PrivateCopy {
    fn new(data: &[u8], wal: Option<&[u8]>) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("sigil-rpmdb-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let copy = Self {
            dir,
            with_wal: wal.is_some(),
        };
        std::fs::write(copy.path(), data)?;
        if let Some(w) = wal {
            std::fs::write(copy.dir.path().join("rpmdb.sqlite-wal"), w)?;
        }
        Ok(copy)
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("rpmdb.sqlite")
    }
}

/// Bounds on reading an untrusted database.
#[derive(Clone, Copy, Debug)]
struct Limits {
    /// Rows of `Packages` (a Fedora image has a few thousand).
    rows: usize,
    /// Bytes of one value (an RPM header blob).
    value: i32,
    /// Wall-clock time for the whole read.
    time: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rows: 200_000,
            value: 16 << 20,
            time: std::time::Duration::from_secs(30),
        }
    }
}

/// Reads every `Packages` row of an untrusted database. The connection runs in SQLite's
/// defensive mode with an untrusted schema: no views, no triggers, no functions called from
/// the schema, no writes to the schema; values over `limits.value` bytes fail, more than
/// `limits.rows` rows fail, and a progress handler interrupts it after `limits.time`.
fn read_blobs(db: &PrivateCopy, limits: Limits) -> Result<Vec<(i64, Vec<u8>)>, ParseError> {
    use rusqlite::config::DbConfig;
    use rusqlite::limits::Limit;
    use rusqlite::{OpenFlags, OptionalExtension};
    let sql = |e: rusqlite::Error| ParseError::new(None, format!("SQLite: {e}"));
    // Applying a write-ahead log needs write access (to our private copy only).
    let access = if db.with_wal {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    };
    let conn = rusqlite::Connection::open_with_flags(
        db.path(),
        access | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .map_err(sql)?;
    for (option, on) in [
        (DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true),
        (DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false),
    ] {
        conn.set_db_config(option, on).map_err(sql)?;
    }
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, limits.value)
        .map_err(sql)?;
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)
        .map_err(sql)?;
    conn.pragma_update(None, "cell_size_check", true)
        .map_err(sql)?;
    conn.pragma_update(None, "mmap_size", 0).map_err(sql)?;
    // Packages must be a table: a view would run the database's own query.
    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM sqlite_schema WHERE name = 'Packages'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;
    match kind.as_deref() {
        Some("table") => {}
        None => return Err(ParseError::new(None, "SQLite: no Packages table")),
        Some(other) => {
            return Err(ParseError::new(
                None,
                format!("SQLite: Packages is a {other}, not a table"),
            ));
        }
    }
    let deadline = std::time::Instant::now() + limits.time;
    conn.progress_handler(10_000, Some(move || std::time::Instant::now() > deadline));
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages")
        .map_err(sql)?;
    let mut rows = stmt.query([]).map_err(sql)?;
    let mut out = Vec::new();
    loop {
        let row = match rows.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                return Err(ParseError::new(
                    None,
                    format!("reading the database took longer than {:?}", limits.time),
                ));
            }
            Err(e) => return Err(sql(e)),
        };
        if out.len() == limits.rows {
            return Err(ParseError::new(
                None,
                format!("more than {} package rows", limits.rows),
            ));
        }
        out.push((
            row.get::<_, i64>(0).map_err(sql)?,
            row.get::<_, Vec<u8>>(1).map_err(sql)?,
        ));
    }
    Ok(out)
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

    /// A database built by `schema` (SQL run on a fresh file), read back with `limits`.
    fn read_with(schema: &str, limits: Limits) -> Result<Vec<(i64, Vec<u8>)>, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch(schema).unwrap();
        drop(c);
        let db = PrivateCopy::new(&std::fs::read(&p).unwrap(), None).unwrap();
        read_blobs(&db, limits).map_err(|e| e.message)
    }

    const ROWS: &str = "CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob BLOB);
        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000)
        INSERT INTO Packages SELECT x, x'00' FROM c;";

    #[test]
    fn an_untrusted_schema_runs_no_views_and_no_oversized_values() {
        assert_eq!(read_with(ROWS, Limits::default()).unwrap().len(), 5000);
        // An endless view named Packages is refused, not run.
        let e = read_with(
            "CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
             SELECT x AS hnum, zeroblob(1) AS blob FROM c;",
            Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e, "SQLite: Packages is a view, not a table");
        // A generated column that would make a gigabyte value.
        let e = read_with(
            "CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, n INT, blob BLOB AS (zeroblob(n)));
             INSERT INTO Packages(hnum, n) VALUES (1, 1000000000);",
            Limits::default(),
        )
        .unwrap_err();
        assert!(e.starts_with("SQLite:"), "{e}");
    }

    #[test]
    fn rows_and_time_are_bounded() {
        let e = read_with(
            ROWS,
            Limits {
                rows: 4999,
                ..Limits::default()
            },
        )
        .unwrap_err();
        assert_eq!(e, "more than 4999 package rows");
        let e = read_with(
            ROWS,
            Limits {
                time: std::time::Duration::ZERO,
                ..Limits::default()
            },
        )
        .unwrap_err();
        assert_eq!(e, "reading the database took longer than 0ns");
    }

    #[test]
    fn the_copy_lives_in_a_private_directory_removed_after() {
        use std::os::unix::fs::PermissionsExt;
        let db = PrivateCopy::new(b"SQLite format 3\0", Some(b"wal")).unwrap();
        let dir = db.dir.path().to_owned();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(dir.join("rpmdb.sqlite").is_file() && dir.join("rpmdb.sqlite-wal").is_file());
        drop(db);
        assert!(!dir.exists());
    }
}
