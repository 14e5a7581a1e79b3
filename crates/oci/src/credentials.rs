//! Registry credentials from Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`), as docker, crane and cosign read them:
//!
//! - `credHelpers.<registry>` names a helper for that registry, else `credsStore` one for all;
//!   the helper `docker-credential-<name> get` reads the server on standard input and prints
//!   `{"ServerURL","Username","Secret"}` (a username of `<token>` means an identity token);
//! - `auths.<registry>.auth` is base64 `user:password`; `identitytoken` a refresh token.
//!
//! Docker Hub is stored under `https://index.docker.io/v1/`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

/// Largest config file read.
const MAX_CONFIG_LEN: u64 = 1024 * 1024;

/// A credential for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// User name and password.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// An identity (refresh) token.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Self::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Self::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// Why credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The config file is unreadable or malformed.
    #[error("docker config {path}: {detail}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A credential helper failed.
    #[error("credential helper docker-credential-{helper} failed for {registry}: {detail}")]
    Helper {
        /// The helper name.
        helper: String,
        /// The registry.
        registry: String,
        /// What went wrong.
        detail: String,
    },
}

#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// The config file location: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn default_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// The key Docker stores `registry` under.
fn config_key(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://index.docker.io/v1/",
        r => r,
    }
}

/// Looks up the credential for `registry` in the config file at `path` (a missing file means
/// anonymous access).
pub fn lookup(path: &Path, registry: &str) -> Result<Option<Credential>, CredentialError> {
    lookup_with_helper_path(path, registry, None)
}

/// As [`lookup`], with credential helpers searched on `helper_path` instead of `PATH`.
pub fn lookup_with_helper_path(
    path: &Path,
    registry: &str,
    helper_path: Option<&std::ffi::OsStr>,
) -> Result<Option<Credential>, CredentialError> {
    let bad = |detail: String| CredentialError::Config {
        path: path.to_owned(),
        detail,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_CONFIG_LEN + 1),
        &mut text,
    )
    .map_err(|e| bad(e.to_string()))?;
    if text.len() as u64 > MAX_CONFIG_LEN {
        return Err(bad("larger than 1 MiB".into()));
    }
    let config: ConfigFile = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    let key = config_key(registry);
    let helper = config
        .cred_helpers
        .get(key)
        .or(config.cred_helpers.get(registry))
        .or(config.creds_store.as_ref());
    if let Some(helper) = helper {
        if let Some(c) = run_helper(helper, key, helper_path)? {
            return Ok(Some(c));
        }
    }
    let entry = config.auths.get(key).or_else(|| {
        // Entries are often written with a scheme: https://registry.example.com
        config
            .auths
            .iter()
            .find(|(k, _)| {
                k.trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    == registry
            })
            .map(|(_, v)| v)
    });
    let Some(entry) = entry else { return Ok(None) };
    if let Some(t) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::IdentityToken(t.clone())));
    }
    if let Some(a) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .map_err(|_| bad(format!("auths.{key}.auth is not base64")))?;
        let text =
            String::from_utf8(raw).map_err(|_| bad(format!("auths.{key}.auth is not UTF-8")))?;
        let (username, password) = text
            .split_once(':')
            .ok_or_else(|| bad(format!("auths.{key}.auth is not user:password")))?;
        return Ok(Some(Credential::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credential::Basic {
            username: u.clone(),
            password: p.clone(),
        }));
    }
    Ok(None)
}

fn run_helper(
    helper: &str,
    server: &str,
    helper_path: Option<&std::ffi::OsStr>,
) -> Result<Option<Credential>, CredentialError> {
    let fail = |detail: String| CredentialError::Helper {
        helper: helper.to_owned(),
        registry: server.to_owned(),
        detail,
    };
    if helper.is_empty()
        || !helper
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(fail("invalid helper name".into()));
    }
    let mut cmd = Command::new(format!("docker-credential-{helper}"));
    if let Some(p) = helper_path {
        // The child's PATH is also where std looks the program up.
        cmd.env("PATH", p);
    }
    let mut child = cmd
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        // The helper protocol's answer for "nothing stored for this server".
        if msg.contains("credentials not found") {
            return Ok(None);
        }
        return Err(fail(format!("exit {:?}: {msg}", out.status.code())));
    }
    let o: HelperOutput =
        serde_json::from_slice(&out.stdout).map_err(|e| fail(format!("bad output: {e}")))?;
    Ok(Some(if o.username == "<token>" {
        Credential::IdentityToken(o.secret)
    } else {
        Credential::Basic {
            username: o.username,
            password: o.secret,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auths_entries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret:with:colons");
        std::fs::write(&p, format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"https://registry.example.com":{{"identitytoken":"tok"}},"plain.example":{{"username":"bob","password":"pw"}}}}}}"#)).unwrap();
        assert_eq!(
            lookup(&p, "docker.io").unwrap(),
            Some(Credential::Basic {
                username: "alice".into(),
                password: "s3cret:with:colons".into()
            })
        );
        assert_eq!(
            lookup(&p, "registry.example.com").unwrap(),
            Some(Credential::IdentityToken("tok".into()))
        );
        assert_eq!(
            lookup(&p, "plain.example").unwrap(),
            Some(Credential::Basic {
                username: "bob".into(),
                password: "pw".into()
            })
        );
        assert_eq!(lookup(&p, "other.example").unwrap(), None);
        assert_eq!(
            lookup(&dir.path().join("missing.json"), "docker.io").unwrap(),
            None
        );
        std::fs::write(&p, "{not json").unwrap();
        assert!(matches!(
            lookup(&p, "docker.io"),
            Err(CredentialError::Config { .. })
        ));
        // Secrets are never printed.
        assert!(
            !format!(
                "{:?}",
                Credential::Basic {
                    username: "u".into(),
                    password: "hunter2".into()
                }
            )
            .contains("hunter2")
        );
    }

    #[test]
    fn credential_helpers_speak_the_protocol() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A real helper executable implementing the docker-credential protocol.
        let helper = dir.path().join("docker-credential-sigiltest");
        std::fs::write(&helper, "#!/bin/sh\nread server\ncase \"$server\" in\n  reg.example) echo '{\"ServerURL\":\"reg.example\",\"Username\":\"carol\",\"Secret\":\"pw\"}' ;;\n  tok.example) echo '{\"ServerURL\":\"tok.example\",\"Username\":\"<token>\",\"Secret\":\"refresh\"}' ;;\n  *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac\n").unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let search = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let search = Some(std::ffi::OsStr::new(&search));
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"credHelpers":{"reg.example":"sigiltest"},"credsStore":"sigiltest"}"#,
        )
        .unwrap();
        assert_eq!(
            lookup_with_helper_path(&p, "reg.example", search).unwrap(),
            Some(Credential::Basic {
                username: "carol".into(),
                password: "pw".into()
            })
        );
        assert_eq!(
            lookup_with_helper_path(&p, "tok.example", search).unwrap(),
            Some(Credential::IdentityToken("refresh".into()))
        );
        assert_eq!(
            lookup_with_helper_path(&p, "none.example", search).unwrap(),
            None
        );
        std::fs::write(&p, r#"{"credsStore":"does-not-exist"}"#).unwrap();
        assert!(matches!(
            lookup_with_helper_path(&p, "reg.example", search),
            Err(CredentialError::Helper { .. })
        ));
    }
}
