//! `checksums sign` and `checksums verify`: signed GNU coreutils checksum files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use sigil_blob::checksums::{check_files, hash_files};
use sigil_crypto::HashAlgorithm;
use sigil_crypto::fs::{AbsoluteLinks, Root, RootError};
use sigil_formats::checksums::{self, MAX_CHECKSUM_FILE_LEN, check_relative_path, format_line};
use sigil_formats::signature::encode_signature;

use crate::cli::{ChecksumsSign, ChecksumsVerify, OutputFormat};
use crate::support::{
    AtomicOutputs, VerificationFailed, jobs, load_public_key, load_signing_key, print_json,
    progress, read_limited,
};

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
    let digests = hash_files(&root, &work, jobs(args.jobs), &|n| pb.inc(n));
    pb.finish_and_clear();

    let mut text = String::new();
    for (name, d) in names.iter().zip(digests) {
        let d = d.with_context(|| format!("cannot read {name}"))?;
        text.push_str(&format_line(algorithm, d.as_bytes(), name));
    }
    if args.tlog.timestamp_server_url.is_some() {
        anyhow::bail!(
            "--timestamp-server-url: a checksum file's signature is a detached .sig with nowhere to keep a timestamp; sign the file with sign-blob --bundle to timestamp it"
        );
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
    let digest = sigil_crypto::Digest::of(key.algorithm().signing_hash(), sums);
    let artifact = sigil_verify::Artifact::from_digests(vec![digest.clone()]);
    let report = match sigil_blob::signature::verify_detached_logged(
        key,
        signature,
        &digest,
        &artifact,
        &trust,
        &args.tlog.rekor_url,
    ) {
        Ok(r) => r,
        Err(e @ sigil_rekor::lookup::LookupError::NoEntry { .. }) => return Ok(Err(e.to_string())),
        Err(e) => return Err(e.into()),
    };
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
    let pb = progress(
        Some(sigil_blob::checksums::total_len(&dir, &lines)),
        "verifying",
    );
    let statuses = check_files(&dir, &lines, jobs(args.jobs), &|n| pb.inc(n))?;
    pb.finish_and_clear();

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
                "path": l.path, "algorithm": l.algorithm.name(), "status": s.word(),
                "reason": s.problem().map(ToString::to_string), "problem": s.problem(),
            })).collect::<Vec<_>>(),
            "summary": {"ok": ok, "failed": failed, "missing": missing, "refused": refused},
        }))?,
        OutputFormat::Text => {
            errln!("Verified OK: signature of {name}");
            for (l, s) in lines.iter().zip(&statuses) {
                let name = checksums::display_name(&l.path);
                match s.problem() {
                    Some(r) => outln!(
                        "{name}: {} ({})",
                        s.word(),
                        checksums::display_name(&r.to_string())
                    ),
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
