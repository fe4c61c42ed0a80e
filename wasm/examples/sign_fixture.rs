//! Signed rulesets for the JavaScript tests (the WASM build cannot sign, and the
//! CLI does not yet). Re-encodes a compiled ruleset at a version and epoch, signs
//! it with the test key of a seed, and writes it:
//!
//! ```text
//! sign_fixture public SEED                       # prints the public key (text form)
//! sign_fixture sign SEED IN OUT [--version V] [--epoch E] [--expires-at MS] [--tamper]
//! ```
//!
//! `SEED` is one byte: the key is `SecretKey::from_seed([SEED; 32])` (test keys
//! only). `--tamper` writes the ruleset with the signature of other content (the
//! same ruleset one millisecond younger): the checksum is valid, the signature is
//! not, as when content is changed after signing.

use edgeflag_evaluator::format::{self, EncodeOptions};
use edgeflag_evaluator::signature::SecretKey;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sign_fixture: {e}");
            ExitCode::from(2)
        }
    }
}

fn key(seed: &str) -> Result<SecretKey, String> {
    let seed: u8 = seed.parse().map_err(|_| format!("bad seed {seed:?}"))?;
    Ok(SecretKey::from_seed([seed; 32]))
}

fn run(args: Vec<String>) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("public") if args.len() == 2 => {
            println!("{}", key(&args[1])?.public_key());
            Ok(())
        }
        Some("sign") if args.len() >= 4 => sign(&args[1], &args[2], &args[3], &args[4..]),
        _ => Err("usage: sign_fixture public SEED | sign SEED IN OUT [--version V] [--epoch E] [--expires-at MS] [--tamper]".into()),
    }
}

fn sign(seed: &str, input: &str, output: &str, flags: &[String]) -> Result<(), String> {
    let key = key(seed)?;
    let bytes = std::fs::read(input).map_err(|e| format!("{input}: {e}"))?;
    let (header, body) = format::read_header(&bytes).map_err(|e| format!("{input}: {e}"))?;
    let body = format::decode_body(body).map_err(|e| format!("{input}: {e}"))?;
    let (mut version, mut epoch, mut expires, mut tamper) =
        (header.version, header.epoch, None, false);
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        let mut value = || -> Result<i64, String> {
            let v = it.next().ok_or(format!("{flag} needs a value"))?;
            v.parse().map_err(|_| format!("{flag}: bad number {v:?}"))
        };
        match flag.as_str() {
            "--version" => version = value()? as u64,
            "--epoch" => epoch = value()? as u64,
            "--expires-at" => expires = Some(value()?),
            "--tamper" => tamper = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let encode = |created_at_ms| {
        let opts = EncodeOptions {
            environment: &header.environment,
            version,
            epoch,
            created_at_ms,
        };
        let mut b = format::encode(&body, &opts).map_err(|e| e.to_string())?;
        format::sign(&mut b, &key, expires).map_err(|e| e.to_string())?;
        Ok::<_, String>(b)
    };
    let mut out = encode(header.created_at_ms)?;
    if tamper {
        // The signature is the header's last 64 bytes, outside the checksum.
        let other = encode(header.created_at_ms + 1)?;
        let at = format::HEADER_LEN - 64;
        out[at..format::HEADER_LEN].copy_from_slice(&other[at..format::HEADER_LEN]);
    }
    std::fs::write(output, out).map_err(|e| format!("{output}: {e}"))
}
