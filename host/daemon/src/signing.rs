//! Signed plugins: detached [minisign](https://jedisct1.github.io/minisign/) signatures, which
//! the `minisign` command and any of its libraries verify as they are (docs/security.md,
//! "Signed plugins").
//!
//! A signature travels beside its component: `FILE.wasm.minisig` on disk, the
//! `Vigil-Signature` header (the file's text, base64) on upload, a column of the plugin's row
//! in the store. The daemon trusts the keys its configuration names (`plugin_trusted_keys`) and
//! checks a plugin's signature on upload and again each time it loads the plugin from the
//! store, so a key taken off the list or a row changed in the database stops the plugin.

use std::io::Cursor;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use minisign::{PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};

/// The upload header that carries a signature: the `.minisig` file's text, base64-encoded.
pub const SIGNATURE_HEADER: &str = "vigil-signature";

/// Why a plugin's signature was not accepted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SignatureError {
    #[error(
        "the plugin is not signed, and this daemon accepts only signed plugins \
         (plugin_require_signed); sign it with `vigil plugin sign --key KEY FILE` and push \
         FILE with FILE.minisig beside it"
    )]
    Missing,
    #[error("the signature cannot be read: {0}")]
    Malformed(String),
    #[error(
        "the plugin is signed with key {0}, which this daemon does not trust (its \
         plugin_trusted_keys)"
    )]
    UnknownKey(String),
    #[error(
        "the signature by key {0} does not match these bytes: the component was changed after \
         it was signed, or the signature is another file's"
    )]
    Mismatch(String),
}

/// The keys a daemon trusts, and whether it runs plugins nobody signed.
#[derive(Clone)]
pub struct Trust {
    keys: Vec<PublicKey>,
    require_signed: bool,
}

impl Trust {
    /// Trust from the configuration: public keys as minisign prints them (the base64 line of a
    /// `.pub` file, e.g. `RWQ…`).
    pub fn new(keys: &[String], require_signed: bool) -> anyhow::Result<Trust> {
        let keys = keys
            .iter()
            .map(|key| {
                PublicKey::from_base64(key.trim()).map_err(|error| {
                    anyhow::anyhow!(
                        "plugin_trusted_keys: `{key}` is not a minisign public key ({error}); \
                         give the second line of the key's .pub file"
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(
            !require_signed || !keys.is_empty(),
            "plugin_require_signed is set but plugin_trusted_keys names no key: no plugin could \
             be stored"
        );
        Ok(Trust {
            keys,
            require_signed,
        })
    }

    /// Checks a component and its signature (the `.minisig` text), if it has one: the ID of
    /// the trusted key that signed it, `None` for an unsigned plugin this daemon accepts. A
    /// signature is never ignored: one that does not verify is an error even where unsigned
    /// plugins are accepted.
    pub fn check(
        &self,
        bytes: &[u8],
        signature: Option<&str>,
    ) -> Result<Option<String>, SignatureError> {
        let Some(signature) = signature else {
            return if self.require_signed {
                Err(SignatureError::Missing)
            } else {
                Ok(None)
            };
        };
        let signature = SignatureBox::from_string(signature)
            .map_err(|error| SignatureError::Malformed(error.to_string()))?;
        let id = key_id(signature.keynum());
        let key = self
            .keys
            .iter()
            .find(|key| key.keynum() == signature.keynum())
            .ok_or_else(|| SignatureError::UnknownKey(id.clone()))?;
        minisign::verify(key, &signature, Cursor::new(bytes), true, false, false)
            .map_err(|_| SignatureError::Mismatch(id.clone()))?;
        Ok(Some(id))
    }
}

/// A key's ID as `minisign` prints it: 16 hex digits of its little-endian key number.
pub fn key_id(keynum: &[u8]) -> String {
    let mut number = [0u8; 8];
    number.copy_from_slice(&keynum[..8]);
    format!("{:016X}", u64::from_le_bytes(number))
}

/// The signature text carried in [`SIGNATURE_HEADER`].
pub fn header_value(signature: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(signature)
}

/// The signature text from a [`SIGNATURE_HEADER`] value.
pub fn from_header(value: &[u8]) -> Result<String, SignatureError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| {
            SignatureError::Malformed(format!("the {SIGNATURE_HEADER} header is not base64"))
        })?;
    String::from_utf8(bytes)
        .map_err(|_| SignatureError::Malformed("the signature is not text".into()))
}

/// Where a component's detached signature is kept: `FILE.minisig` beside `FILE`.
pub fn signature_path(file: &Path) -> std::path::PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".minisig");
    name.into()
}

/// Writes a new key pair, `NAME.key` (secret, readable by its owner only) and `NAME.pub`, in
/// minisign's formats. The secret key is encrypted with `password` if one is given. Returns
/// the public key's base64 line, for `plugin_trusted_keys`.
pub fn generate_keys(name: &Path, password: Option<String>) -> anyhow::Result<String> {
    let secret_path = name.with_extension("key");
    let public_path = name.with_extension("pub");
    for path in [&secret_path, &public_path] {
        anyhow::ensure!(
            !path.exists(),
            "{} exists; choose another name or remove it",
            path.display()
        );
    }
    let pair = match password {
        Some(password) => minisign::KeyPair::generate_encrypted_keypair(Some(password)),
        None => minisign::KeyPair::generate_unencrypted_keypair(),
    }
    .context("cannot generate a key pair")?;
    let id = key_id(pair.pk.keynum());
    let public = pair
        .pk
        .to_box()
        .context("cannot encode the public key")?
        .into_string();
    let secret = pair
        .sk
        .to_box(Some(&format!("vigil plugin signing key {id}")))
        .context("cannot encode the secret key")?
        .into_string();
    write_private(&secret_path, secret.as_bytes())?;
    std::fs::write(&public_path, public)
        .with_context(|| format!("cannot write {}", public_path.display()))?;
    Ok(pair.pk.to_base64())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Signs `bytes` with the secret key in `key_file` (minisign's format; `password` opens an
/// encrypted one, else it is asked for), naming `file_name` in the signed comment as `minisign -S` does. Returns the
/// `.minisig` text.
pub fn sign(
    key_file: &Path,
    password: Option<String>,
    bytes: &[u8],
    file_name: &str,
) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(key_file)
        .with_context(|| format!("cannot read the key {}", key_file.display()))?;
    let boxed = SecretKeyBox::from_string(&text)
        .with_context(|| format!("{} is not a minisign secret key", key_file.display()))?;
    // An unencrypted key opens as it is; an encrypted one with the password given, or one
    // asked for on the terminal.
    let key = SecretKey::from_unencrypted_box(boxed.clone())
        .or_else(|_| SecretKey::from_box(boxed, password))
        .map_err(|error| {
            anyhow::anyhow!(
                "cannot open the key {}: {error} (an encrypted key takes its password from \
                 VIGIL_SIGNING_PASSWORD or the terminal)",
                key_file.display()
            )
        })?;
    let public = PublicKey::from_secret_key(&key).context("the key holds no public key")?;
    let id = key_id(public.keynum());
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let trusted = format!("timestamp:{timestamp}\tfile:{file_name}\thashed");
    let untrusted = format!("signature from vigil plugin sign, key {id}");
    let signature = minisign::sign(
        Some(&public),
        &key,
        Cursor::new(bytes),
        Some(&trusted),
        Some(&untrusted),
    )
    .context("cannot sign")?;
    Ok(signature.into_string())
}

/// A public key box's base64 line, from the text of a `.pub` file or the line itself.
pub fn public_key_line(text: &str) -> anyhow::Result<String> {
    let key = match PublicKeyBox::from_string(text).and_then(PublicKeyBox::into_public_key) {
        Ok(key) => key,
        Err(_) => PublicKey::from_base64(text.trim()).context("not a minisign public key")?,
    };
    Ok(key.to_base64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str, password: Option<&str>) -> (std::path::PathBuf, String) {
        let base = dir.join(name);
        let public = generate_keys(&base, password.map(String::from)).unwrap();
        (base.with_extension("key"), public)
    }

    #[test]
    fn a_signature_verifies_only_on_its_bytes_and_under_a_trusted_key() {
        let dir = tempfile::tempdir().unwrap();
        let (key, public) = pair(dir.path(), "alice", None);
        let (other_key, other_public) = pair(dir.path(), "bob", Some("s3cret"));
        let bytes = b"\0asm component bytes".to_vec();
        let signature = sign(&key, None, &bytes, "p.wasm").unwrap();
        let trust = Trust::new(std::slice::from_ref(&public), true).unwrap();
        let id = trust.check(&bytes, Some(&signature)).unwrap().unwrap();
        assert_eq!(id.len(), 16);

        let mut tampered = bytes.clone();
        tampered[3] ^= 1;
        assert_eq!(
            trust.check(&tampered, Some(&signature)),
            Err(SignatureError::Mismatch(id.clone()))
        );
        assert_eq!(trust.check(&bytes, None), Err(SignatureError::Missing));
        assert!(matches!(
            trust.check(&bytes, Some("not a signature")),
            Err(SignatureError::Malformed(_))
        ));

        // An encrypted key signs with its password, and its signature is unknown to `trust`.
        assert!(sign(&other_key, Some("wrong".into()), &bytes, "p.wasm").is_err());
        let by_bob = sign(&other_key, Some("s3cret".into()), &bytes, "p.wasm").unwrap();
        assert!(matches!(
            trust.check(&bytes, Some(&by_bob)),
            Err(SignatureError::UnknownKey(_))
        ));
        let both = Trust::new(&[public, other_public], false).unwrap();
        assert!(both.check(&bytes, Some(&by_bob)).unwrap().is_some());
        assert_eq!(both.check(&bytes, None), Ok(None), "unsigned is accepted");
        assert!(matches!(
            both.check(&tampered, Some(&by_bob)),
            Err(SignatureError::Mismatch(_))
        ));

        // Through the header and back.
        let carried = from_header(header_value(&signature).as_bytes()).unwrap();
        assert_eq!(carried, signature);
        assert!(from_header(b"%%%").is_err());
    }

    #[test]
    fn trust_refuses_bad_keys_and_a_requirement_no_key_can_meet() {
        assert!(Trust::new(&["RWQnot-a-key".into()], false).is_err());
        assert!(Trust::new(&[], true).is_err());
        assert!(Trust::new(&[], false).is_ok());
    }

    #[test]
    fn keys_are_not_overwritten_and_the_secret_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let (key, public) = pair(dir.path(), "k", None);
        assert!(generate_keys(&dir.path().join("k"), None).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(dir.path().join("k.pub")).unwrap();
        assert_eq!(public_key_line(&text).unwrap(), public);
        assert_eq!(public_key_line(&public).unwrap(), public);
    }
}
