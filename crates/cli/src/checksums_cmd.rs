//! `checksums sign` and `checksums verify`: signed GNU coreutils checksum files.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::ProgressBar;
use serde_json::json;
use sigil_crypto::fs::{AbsoluteLinks, Root, RootError};
use sigil_crypto::hash::hash_reader;
use sigil_crypto::{Digest, HashAlgorithm};
use sigil_formats::checksums::{self, MAX_CHECKSUM_FILE_LEN, check_relative_path, format_line};
use sigil_formats::signature::encode_signature;

use crate::cli::{ChecksumsSign, ChecksumsVerify, OutputFormat};
use crate::support::{
    AtomicOutputs, VerificationFailed, jobs, load_public_key, load_signing_key, print_json,
    progress, read_limited,
};

/// Hashes `files` on `threads` threads; results come back in input order.
/// Each is opened beneath `root` (never by its full name), so a component swapped for a
/// symbolic link after the listing was checked cannot lead outside.
fn hash_files(
    root: &Root,
    files: &[(String, HashAlgorithm)],
    threads: usize,
    pb: &ProgressBar,
) -> Vec<io::Result<Digest>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<io::Result<Digest>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, files.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, alg)) = files.get(i) else {
                        break;
                    };
                    let r = root
                        .open_file(path)
                        .map_err(|e| io::Error::other(e.to_string()))
                        .and_then(|(f, _)| hash_reader(*alg, f, |n| pb.inc(n)));
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("not hashed"))))
        .collect()
}

pub fn sign(args: ChecksumsSign) -> Result<()> {
    let algorithm: HashAlgorithm = args.algorithm.parse()?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}SUMS", algorithm.bsd_tag())));
    let sig_path = args
        .output_signature
        .clone()
        .unwrap_or_else(|| with_suffix(&output, ".sig"));

    // Every listed path must be one `checksums verify` will accept: relative, inside this
    // directory, a regular file.
    let root = Root::open(Path::new("."), AbsoluteLinks::Host)
        .context("cannot open the current directory")?;
    let mut names = Vec::with_capacity(args.files.len());
    let mut total = 0u64;
    for f in &args.files {
        let name = f
            .to_str()
            .ok_or_else(|| anyhow!("{} is not valid UTF-8", f.display()))?;
        check_relative_path(name).map_err(|e| {
            anyhow!("{name}: {e}; checksum files list paths relative to their directory")
        })?;
        if name.contains('\0') {
            bail!("{name}: contains a NUL byte");
        }
        let (_, len) = root.open_file(name).map_err(|e| match e {
            RootError::Directory => anyhow!("{name} is a directory, not a file"),
            RootError::NotRegular => {
                anyhow!("{name} is not a regular file (a device, socket or FIFO)")
            }
            RootError::Escapes => {
                anyhow!("{name}: {e}; checksum files list paths inside their directory")
            }
            e => anyhow!("cannot open {name}: {e}"),
        })?;
        total += len;
        names.push(name.to_owned());
    }

    let key = load_signing_key(&args.key)?;
    let pb = progress(Some(total), "hashing");
    let work: Vec<(String, HashAlgorithm)> = names.iter().map(|n| (n.clone(), algorithm)).collect();
    let digests = hash_files(&root, &work, jobs(args.jobs), &pb);
    pb.finish_and_clear();

    let mut text = String::new();
    for (name, d) in names.iter().zip(digests) {
        let d = d.with_context(|| format!("cannot read {name}"))?;
        text.push_str(&format_line(algorithm, d.as_bytes(), name));
    }
    let log = crate::rekor::upload_log_if(args.tlog.tlog_upload, &args.tlog.rekor_url)?;
    let (signature, entry) = sigil_sign::blob::sign_message(&key, text.as_bytes(), log.as_ref())?;
    if let Some(e) = entry {
        errln!("tlog entry created with index: {}", e.log_index.0);
    }
    let mut outputs = AtomicOutputs::new(true);
    outputs.add(&output, text.as_bytes(), 0o644)?;
    outputs.add(&sig_path, encode_signature(&signature).as_bytes(), 0o644)?;
    outputs.commit()?;
    errln!(
        "Wrote {} ({} files) and its signature {}",
        output.display(),
        names.len(),
        sig_path.display()
    );
    Ok(())
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    Ok,
    Failed(String),
    Missing,
    Refused(String),
}

impl Status {
    fn word(&self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Failed(_) => "FAILED",
            Self::Missing => "MISSING",
            Self::Refused(_) => "REFUSED",
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            Self::Failed(r) | Self::Refused(r) => Some(r),
            _ => None,
        }
    }
}

/// Checks a listed path inside `root` (opened beneath it, never by its full name) and its
/// length; `Err` is the status to report instead of hashing.
fn resolve(root: &Root, listed: &str) -> Result<u64, Status> {
    check_relative_path(listed).map_err(|e| Status::Refused(e.to_string()))?;
    match root.open_file(listed) {
        Ok((_, len)) => Ok(len),
        // A dangling symlink is missing; nothing is read either way.
        Err(RootError::NotFound) => Err(Status::Missing),
        Err(e @ (RootError::Escapes | RootError::NotRegular)) => {
            Err(Status::Refused(e.to_string()))
        }
        Err(e @ RootError::Directory) => Err(Status::Failed(e.to_string())),
        Err(e) => Err(Status::Failed(format!("cannot open: {e}"))),
    }
}

/// The checksum file's detached signature, verified with the log entry found in the log at
/// `--rekor-url` (by the file's digest and the key) against the trust root's logs.
fn signature_logged(
    args: &ChecksumsVerify,
    key: &sigil_crypto::PublicKey,
    sums: &[u8],
    signature: &[u8],
) -> Result<Result<(), String>> {
    let trust = crate::bundle_cmd::trust_material(&crate::cli::SignerArgs {
        trusted_root: args.trusted_root.clone(),
        ..Default::default()
    })?;
    let alg = key.algorithm().signing_hash();
    let digest = sigil_crypto::Digest::of(alg, sums);
    let artifact = sigil_verify::Artifact::from_digests(vec![digest.clone()]);
    let req = sigil_verify::Requirement::Key(key.clone());
    let options = sigil_verify::Options::default();
    let evidence = sigil_formats::bundle::Bundle::message_signature_with_key(
        key.hint(),
        alg.sigstore_name(),
        digest.as_bytes().to_vec(),
        signature.to_vec(),
    );
    let report =
        crate::logreq::verify_unlogged(&args.tlog.rekor_url, &digest, key, &evidence, |b| {
            sigil_verify::verify_bundle(b, &artifact, &trust, &req, &options)
        })?;
    Ok(match crate::logreq::explain(&report) {
        Some(why) => Err(why),
        None => Ok(()),
    })
}

pub fn verify(args: ChecksumsVerify) -> Result<()> {
    let key = load_public_key(&args.key)?;
    let sums = read_limited(&args.checksum_file, MAX_CHECKSUM_FILE_LEN, "checksum file")?;
    let sig_path = args
        .signature
        .clone()
        .unwrap_or_else(|| with_suffix(&args.checksum_file, ".sig"));
    let signature = crate::support::read_signature_arg(&sig_path)?;
    let name = args.checksum_file.display().to_string();

    // 1. The checksum file's own signature, before anything it lists is touched; with its
    // log entry unless the verifier waived the log.
    let checked = if args.tlog.required() {
        signature_logged(&args, &key, &sums, &signature)?
    } else {
        key.verify(&sums, &signature).map_err(|e| e.to_string())
    };
    if let Err(e) = checked {
        if args.output == OutputFormat::Json {
            print_json(&json!({
                "ok": false, "checksum_file": name,
                "signature": {"ok": false, "detail": e}, "files": [],
            }))?;
        }
        return Err(VerificationFailed(format!(
            "the signature of {name} did not verify: {e}; no listed file was checked"
        ))
        .into());
    }

    // 2. Every listed file.
    let lines = checksums::parse(&sums).with_context(|| format!("checksum file {name}"))?;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => match args.checksum_file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        },
    };
    let root = Root::open(&dir, AbsoluteLinks::Host)
        .with_context(|| format!("cannot open directory {}", dir.display()))?;
    let mut statuses: Vec<Option<Status>> = Vec::with_capacity(lines.len());
    let mut work = Vec::new();
    let mut work_index = Vec::new();
    let mut total = 0u64;
    for (i, line) in lines.iter().enumerate() {
        match resolve(&root, &line.path) {
            Ok(len) => {
                total += len;
                work.push((line.path.clone(), line.algorithm));
                work_index.push(i);
                statuses.push(None);
            }
            Err(status) => statuses.push(Some(status)),
        }
    }
    let pb = progress(Some(total), "verifying");
    let digests = hash_files(&root, &work, jobs(args.jobs), &pb);
    pb.finish_and_clear();
    for (i, d) in work_index.into_iter().zip(digests) {
        statuses[i] = Some(match d {
            Ok(d) if d.as_bytes() == lines[i].digest.as_slice() => Status::Ok,
            Ok(d) => Status::Failed(format!(
                "{} is {}, the checksum file says {}",
                d.algorithm(),
                d.to_hex(),
                sigil_crypto::hash::hex_lower(&lines[i].digest)
            )),
            Err(e) => Status::Failed(format!("cannot read: {e}")),
        });
    }
    let statuses: Vec<Status> = statuses
        .into_iter()
        .map(|s| s.unwrap_or(Status::Failed("not checked".into())))
        .collect();

    let count = |w: &str| statuses.iter().filter(|s| s.word() == w).count();
    let (ok, failed, missing, refused) = (
        count("OK"),
        count("FAILED"),
        count("MISSING"),
        count("REFUSED"),
    );
    let all_ok = ok == statuses.len();
    match args.output {
        OutputFormat::Json => print_json(&json!({
            "ok": all_ok,
            "checksum_file": name,
            "signature": {"ok": true, "key": {"algorithm": key.algorithm().to_string(), "hint": key.hint()}},
            "files": lines.iter().zip(&statuses).map(|(l, s)| json!({
                "path": l.path, "algorithm": l.algorithm.name(), "status": s.word(), "reason": s.reason(),
            })).collect::<Vec<_>>(),
            "summary": {"ok": ok, "failed": failed, "missing": missing, "refused": refused},
        }))?,
        OutputFormat::Text => {
            errln!("Verified OK: signature of {name}");
            for (l, s) in lines.iter().zip(&statuses) {
                let name = checksums::display_name(&l.path);
                match s.reason() {
                    Some(r) => outln!("{name}: {} ({})", s.word(), checksums::display_name(r)),
                    None => outln!("{name}: {}", s.word()),
                }
            }
            errln!(
                "{ok} OK, {failed} FAILED, {missing} MISSING, {refused} REFUSED of {} files",
                statuses.len()
            );
        }
    }
    if all_ok {
        Ok(())
    } else {
        Err(VerificationFailed(format!(
            "{} of {} listed files did not verify",
            statuses.len() - ok,
            statuses.len()
        ))
        .into())
    }
}
