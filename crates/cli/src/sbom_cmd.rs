//! `sigil sbom`: catalogue a source and write SPDX / CycloneDX documents.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sigil_sbom::{DocumentInfo, Inventory, Progress, ScanOptions, Source, cyclonedx};

use crate::cli::Sbom;
use crate::support::{AtomicOutputs, PartialResult};

enum Format {
    Spdx,
    CycloneDx,
    Summary,
}

fn parse_outputs(specs: &[String]) -> Result<Vec<(Format, Option<PathBuf>)>> {
    if specs.is_empty() {
        return Ok(vec![(Format::Spdx, None)]);
    }
    let mut out = Vec::new();
    let mut to_stdout = 0;
    for s in specs {
        let (f, file) = match s.split_once('=') {
            Some((f, file)) if !file.is_empty() => (f, Some(PathBuf::from(file))),
            Some((f, _)) => (f, None),
            None => (s.as_str(), None),
        };
        let format = match f {
            "spdx-json" | "spdx" => Format::Spdx,
            "cyclonedx-json" | "cyclonedx" | "cdx-json" => Format::CycloneDx,
            "json" => Format::Summary,
            other => bail!("unknown output format {other:?} (spdx-json, cyclonedx-json, json)"),
        };
        if file.is_none() {
            to_stdout += 1;
        }
        out.push((format, file));
    }
    if to_stdout > 1 {
        bail!("only one output can go to standard output; name files with FORMAT=FILE");
    }
    Ok(out)
}

fn summary_json(inv: &Inventory) -> Vec<u8> {
    let counts: serde_json::Map<String, serde_json::Value> = inv
        .counts()
        .iter()
        .map(|(e, n)| (e.purl_type().to_owned(), serde_json::json!(n)))
        .collect();
    let v = serde_json::json!({
        "source": inv.source.name,
        "digest": inv.source.digest,
        "distro": inv.distro.as_ref().map(|d| d.qualifier()),
        "packages": inv.packages.len(),
        "ecosystems": counts,
        "filesRead": inv.files_read,
        "partial": !inv.warnings.is_empty(),
        "warnings": inv.warnings.iter().map(|w| serde_json::json!({"path": w.path, "line": w.line, "message": w.message})).collect::<Vec<_>>(),
    });
    let mut out = serde_json::to_vec_pretty(&v).expect("JSON values serialise");
    out.push(b'\n');
    out
}

pub fn sbom(a: Sbom) -> Result<()> {
    let outputs = parse_outputs(&a.output)?;
    let source = Source::parse(&a.source)?;
    let registry = match source {
        Source::Registry(_) => Some(crate::oci_cmd::registry(&a.registry)?),
        _ => None,
    };
    let adapter = registry.as_ref().map(sigil_image::sbom::RegistryImages);
    let bar = if !a.quiet && std::io::stderr().is_terminal() {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let report = |p: Progress| match p {
        Progress::Layer { done, total } => {
            bar.set_message("layers");
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        Progress::Files { done, total } => {
            bar.set_message("files");
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let opts = ScanOptions {
        exclude_dev: a.exclude_dev,
        max_file_size: a.max_file_size,
        max_image_memory: a.max_image_memory,
        platform: a.platform.clone(),
        registry: adapter
            .as_ref()
            .map(|r| r as &dyn sigil_sbom::ImageRegistry),
        progress: Some(&report),
        threads: 0,
    };
    let inv = match sigil_sbom::scan(&source, &opts) {
        Ok(inv) => inv,
        // Registry errors keep their type, so "no such tag" (11) and "unreachable" (14) keep
        // their exit codes.
        Err(sigil_sbom::SbomError::Registry(e)) => {
            let e = match e.downcast::<sigil_oci::RegistryError>() {
                Ok(r) => anyhow::Error::new(*r),
                Err(other) => anyhow::anyhow!(other),
            };
            return Err(e.context(format!("cannot scan {}", a.source)));
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot scan {}", a.source))),
    };
    bar.finish_and_clear();
    let info = DocumentInfo::now();
    let version = if a.cyclonedx_version == "1.5" {
        cyclonedx::SpecVersion::V1_5
    } else {
        cyclonedx::SpecVersion::V1_6
    };
    let mut files = AtomicOutputs::new(true);
    let mut stdout_doc = None;
    for (format, file) in &outputs {
        let doc = match format {
            Format::Spdx => sigil_sbom::spdx_json::write(&inv, &info),
            Format::CycloneDx => cyclonedx::write(&inv, &info, version),
            Format::Summary => summary_json(&inv),
        };
        match file {
            Some(path) => files.add(path, &doc, 0o644)?,
            None => stdout_doc = Some(doc),
        }
    }
    files.commit()?;
    if let Some(doc) = stdout_doc {
        crate::console::out_bytes(&doc);
    }
    let mut err = std::io::stderr().lock();
    if !a.quiet {
        let counts = inv.counts();
        let _ = writeln!(err, "{:<12} {:>8}", "ECOSYSTEM", "PACKAGES");
        for (e, n) in &counts {
            let _ = writeln!(err, "{:<12} {n:>8}", e.purl_type());
        }
        let _ = writeln!(err, "{:<12} {:>8}", "total", inv.packages.len());
        if let Some(d) = &inv.distro {
            let _ = writeln!(err, "distribution: {} ({})", d.name, d.qualifier());
        }
    }
    for w in &inv.warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    if !inv.warnings.is_empty() {
        return Err(PartialResult(format!(
            "the SBOM is partial: {} input(s) could not be read (warnings above)",
            inv.warnings.len()
        ))
        .into());
    }
    Ok(())
}
