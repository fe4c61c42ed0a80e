//! `edgeflag keygen`, `edgeflag verify`, and the key options other commands
//! share: `--signing-key` (or `$EDGEFLAG_SIGNING_KEY`) and `--expires-in` for
//! publishers, `--public-key` for readers.

use super::{io_err, CliError};
use edgeflag_evaluator::accept::{Policy, Verdict};
use edgeflag_evaluator::signature::{SecretKey, Signer, TrustedKeys};
use edgeflag_publish::{Signing, DEFAULT_LIFETIME};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The environment variable that may hold a secret key's text (for CI secrets).
pub const SIGNING_KEY_ENV: &str = "EDGEFLAG_SIGNING_KEY";

/// How a publishing command signs.
#[derive(Debug, Clone, clap::Args)]
pub struct SigningArgs {
    /// Sign with this secret key file (from `edgeflag keygen`). Without it, the
    /// key text in $EDGEFLAG_SIGNING_KEY is used when set; otherwise rulesets
    /// are published unsigned.
    #[arg(long, value_name = "KEY")]
    signing_key: Option<PathBuf>,
    /// How long a signed ruleset stays fresh: `30d`, `12h`, `90m`, `600s`, or
    /// `never`. Re-publish (or `edgeflag resign`) before half of it has passed.
    #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
    expires_in: Option<Lifetime>,
}

/// A ruleset lifetime: a duration, or never expiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(pub Option<Duration>);

/// Parses a duration (`30d`, `12h`, `90m`, `600s`: [`super::duration::parse`])
/// or `never`.
pub fn parse_lifetime(s: &str) -> Result<Lifetime, String> {
    if s == "never" {
        return Ok(Lifetime(None));
    }
    super::duration::parse(s).map(|d| Lifetime(Some(d)))
}

/// The signing key and lifetime a command was given.
#[derive(Debug)]
pub struct Loaded {
    key: SecretKey,
    lifetime: Option<Duration>,
}

impl Loaded {
    /// The signer and lifetime, for the origin.
    pub fn into_parts(self) -> (std::sync::Arc<dyn Signer>, Option<Duration>) {
        (std::sync::Arc::new(self.key), self.lifetime)
    }

    /// The publish crate's view of it.
    pub fn signing(&self) -> Signing<'_> {
        Signing::new(&self.key).lifetime(self.lifetime)
    }
}

impl SigningArgs {
    /// The key from `--signing-key` or `$EDGEFLAG_SIGNING_KEY`; `None` when
    /// neither is given (then `--expires-in` is a usage error).
    pub fn load(&self) -> Result<Option<Loaded>, CliError> {
        let key = match &self.signing_key {
            Some(path) => Some(read_secret(path)?),
            None => match std::env::var(SIGNING_KEY_ENV) {
                Ok(text) if !text.trim().is_empty() => Some(
                    SecretKey::parse(&text)
                        .map_err(|e| CliError::Usage(format!("${SIGNING_KEY_ENV}: {e}")))?,
                ),
                _ => None,
            },
        };
        match key {
            Some(key) => Ok(Some(Loaded {
                key,
                lifetime: self.expires_in.map_or(Some(DEFAULT_LIFETIME), |l| l.0),
            })),
            None if self.expires_in.is_some() => Err(CliError::Usage(
                "--expires-in needs a signing key (--signing-key or $EDGEFLAG_SIGNING_KEY): \
                 only signed rulesets expire"
                    .into(),
            )),
            None => Ok(None),
        }
    }
}

/// Keys a reading command trusts.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// Trust rulesets signed by the keys in this file (`KEY.pub`: one key per
    /// line, `#` comments). Repeatable, for rotation. With keys, unsigned,
    /// tampered and unknown-key rulesets are refused.
    #[arg(long = "public-key", value_name = "KEY.pub")]
    public_keys: Vec<PathBuf>,
}

impl TrustArgs {
    /// The trusted keys; `None` when no `--public-key` was given.
    pub fn load(&self) -> Result<Option<TrustedKeys>, CliError> {
        if self.public_keys.is_empty() {
            return Ok(None);
        }
        let mut keys = TrustedKeys::default();
        for path in &self.public_keys {
            let text = std::fs::read_to_string(path).map_err(io_err(path))?;
            let found = TrustedKeys::parse(&text)
                .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
            for key in found.iter() {
                keys.add(key.clone())
                    .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
            }
        }
        Ok(Some(keys))
    }
}

fn read_secret(path: &Path) -> Result<SecretKey, CliError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    SecretKey::parse(line).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// `edgeflag keygen --out KEY`: writes the secret key to KEY (mode 0600, never
/// over an existing file) and the public key to KEY.pub.
pub fn keygen(out: &Path) -> Result<ExitCode, CliError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| CliError::Usage(format!("no system randomness: {e}")))?;
    let key = SecretKey::from_seed(seed);
    seed.fill(0);
    let public = key.public_key();
    let pub_path = PathBuf::from(format!("{}.pub", out.display()));
    if pub_path.exists() {
        return Err(CliError::Usage(format!(
            "{} exists: refusing to overwrite a key",
            pub_path.display()
        )));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::Usage(format!(
                "{} exists: refusing to overwrite a key",
                out.display()
            ))
        } else {
            io_err(out)(e)
        }
    })?;
    writeln!(
        file,
        "# edgeflag signing key {}: keep it secret (publishers only)\n{}",
        key.key_id(),
        key.to_text()
    )
    .and_then(|()| file.sync_all())
    .map_err(io_err(out))?;
    std::fs::write(
        &pub_path,
        format!("# edgeflag public key {}\n{public}\n", public.id()),
    )
    .map_err(io_err(&pub_path))?;
    outln!("key id      {}", key.key_id());
    outln!(
        "secret key  {} (mode 0600; keep it out of version control)",
        out.display()
    );
    outln!(
        "public key  {} (give it to every reader)",
        pub_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `edgeflag verify FILE --public-key KEY.pub`: exit 0 only when FILE is signed
/// by a trusted key, the signature covers exactly its bytes, and (unless
/// `allow_expired`) it has not expired.
pub fn verify(path: &Path, trust: &TrustArgs, allow_expired: bool) -> Result<ExitCode, CliError> {
    let Some(keys) = trust.load()? else {
        return Err(CliError::Usage(
            "verify needs at least one --public-key KEY.pub".into(),
        ));
    };
    let rs = super::load_ruleset(path)?;
    let now = edgeflag_publish::now_ms();
    let policy = Policy::new().trust(keys);
    let when = (!allow_expired).then_some(now);
    match policy.check(None, &rs, when) {
        Ok(Verdict::Newer | Verdict::Same) => {
            let h = rs.header();
            let by = policy
                .verified_by(h)
                .map_or_else(String::new, |k| k.to_string());
            let expiry = match h.expires_at_ms {
                None => "never expires".to_string(),
                Some(at) if h.is_expired(now) => {
                    format!("EXPIRED at {}", edgeflag_compiler::describe::rfc3339_ms(at))
                }
                Some(at) => format!("expires {}", edgeflag_compiler::describe::rfc3339_ms(at)),
            };
            outln!(
                "{}: good signature by key {by} ({} v{}, {expiry})",
                path.display(),
                h.environment,
                h.version
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => {
            errln!("{}: {} ({})", path.display(), refusal, refusal.kind());
            Ok(ExitCode::FAILURE)
        }
    }
}
