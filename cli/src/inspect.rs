//! `edgeflag inspect`: header, sizes, flags and segments.

use super::{io_err, load_ruleset, CliError};
use edgeflag_compiler::describe::{self, FlagView};
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, json: bool) -> Result<ExitCode, CliError> {
    let size = std::fs::metadata(path).map_err(io_err(path))?.len();
    let rs = load_ruleset(path)?;
    let h = rs.header();
    let body = rs.body();
    let flags = describe::flags(&rs);
    let segments = describe::segments(&rs);
    if json {
        let v = serde_json::json!({
            "header": {
                "format_version": h.format_version,
                "environment": h.environment,
                "version": h.version,
                "epoch": h.epoch,
                "created_at_ms": h.created_at_ms,
                "checksum": format!("{:016x}", h.checksum),
                "signed": h.signature.is_some(),
                "key_id": h.signature.map(|s| s.key_id.to_string()),
                "expires_at_ms": h.expires_at_ms,
            },
            "sizes": {
                "file_bytes": size,
                "body_bytes": h.body_len,
                "strings": body.strings.len(),
                "string_bytes": body.strings.blob.len(),
                "attributes": body.attributes.len(),
                "regexes": body.regexes.len(),
            },
            "flags": flags,
            "segments": segments,
        });
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    outln!("ruleset     {}", path.display());
    outln!("environment {}", h.environment);
    outln!("version     {}", h.version);
    if h.epoch == 0 {
        outln!("epoch       0 (compiled, never published: any published ruleset replaces it)");
    } else {
        outln!(
            "epoch       {} ({})",
            h.epoch,
            describe::rfc3339_ms(h.epoch as i64)
        );
    }
    outln!(
        "created     {} (unix ms {})",
        describe::rfc3339_ms(h.created_at_ms),
        h.created_at_ms
    );
    outln!("format      v{}", h.format_version);
    outln!("checksum    xxh3:{:016x}", h.checksum);
    match h.signature {
        None => outln!("signature   none (unsigned)"),
        Some(seal) => outln!(
            "signature   ed25519, key {} (not verified: `edgeflag verify` checks it)",
            seal.key_id
        ),
    }
    match h.expires_at_ms {
        None => outln!("expires     never"),
        Some(at) => outln!("expires     {} (unix ms {at})", describe::rfc3339_ms(at)),
    }
    outln!(
        "size        {size} bytes (body {}), {} strings ({} bytes), {} attributes, {} regexes",
        h.body_len,
        body.strings.len(),
        body.strings.blob.len(),
        body.attributes.len(),
        body.regexes.len()
    );
    outln!("\n{} flags", flags.len());
    for f in &flags {
        print_flag(f);
    }
    outln!("\n{} segments", segments.len());
    for s in &segments {
        outln!(
            "  {}: include {}, exclude {}, {} rules",
            s.key,
            s.include.len(),
            s.exclude.len(),
            s.rules.len()
        );
        for r in &s.rules {
            outln!("      rule: {r}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_flag(f: &FlagView) {
    let state = if f.enabled { "on" } else { "OFF (kill switch)" };
    let client = if f.client_side { ", client-side" } else { "" };
    outln!("  {} ({}, {state}{client})", f.key, f.kind);
    outln!("      variations: {}", f.variations.join("; "));
    outln!("      off: {}", f.off_variation);
    for p in &f.prerequisites {
        outln!("      prerequisite: {p}");
    }
    if !f.targets.is_empty() {
        outln!("      targets: {}", f.targets.join(", "));
    }
    for (i, r) in f.rules.iter().enumerate() {
        outln!("      rule {}: {r}", i + 1);
    }
    outln!("      fallthrough: {}", f.fallthrough);
}
