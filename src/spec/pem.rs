//! The TLS files a probe file names (`ca`, `client_cert`, `client_key`), read
//! and parsed at load: a missing or broken file is the user's mistake (exit 2,
//! at the value that names it), not a probe error after traffic was sent.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The most bytes read from one TLS file: a large CA bundle is a few hundred
/// KiB; a path such as `/dev/zero` must not stall loading.
const MAX_FILE: u64 = 16 << 20;

/// What a TLS file is for: the field that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `ca`: extra trusted roots.
    Ca,
    /// `client_cert`: the mTLS certificate chain.
    ClientCert,
    /// `client_key`: its private key.
    ClientKey,
}

impl Role {
    /// Every role, by its field name.
    pub const ALL: [(&'static str, Role); 3] = [
        ("ca", Role::Ca),
        ("client_cert", Role::ClientCert),
        ("client_key", Role::ClientKey),
    ];

    /// The field that names the file.
    pub fn field(self) -> &'static str {
        match self {
            Role::Ca => "ca",
            Role::ClientCert => "client_cert",
            Role::ClientKey => "client_key",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Role::Ca => "CA file",
            Role::ClientCert => "client certificate",
            Role::ClientKey => "client key",
        }
    }
}

/// Where a path written in a probe file is read from: relative paths from
/// the probe file's directory (as the probes read them at run time).
pub fn resolve(base_dir: &Path, written: &Path) -> PathBuf {
    if written.is_absolute() {
        written.to_owned()
    } else {
        base_dir.join(written)
    }
}

/// Reads the file `written` (relative to `base_dir`) and checks it holds
/// what its role needs: certificates usable as roots for `ca`, a certificate
/// chain for `client_cert`, a private key for `client_key`.
pub fn check(role: Role, written: &Path, base_dir: &Path) -> Result<(), String> {
    let path = resolve(base_dir, written);
    let bytes = read(role, written, &path)?;
    let shown = written.display();
    let what = role.what();
    match role {
        Role::Ca => {
            let certs = certificates(&bytes).map_err(|e| format!("the {what} `{shown}` {e}"))?;
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "the {what} `{shown}` holds no certificate usable as a trusted root"
                ));
            }
            Ok(())
        }
        Role::ClientCert => certificates(&bytes)
            .map(drop)
            .map_err(|e| format!("the {what} `{shown}` {e}")),
        Role::ClientKey => private_key(&bytes)
            .map(drop)
            .map_err(|e| format!("the {what} `{shown}` {e}")),
    }
}

/// Checks that the client certificate and key (each already checked on its
/// own) belong together, as the TLS handshake will need.
pub fn check_pair(cert: &Path, key: &Path, base_dir: &Path) -> Result<(), String> {
    let (cert_path, key_path) = (resolve(base_dir, cert), resolve(base_dir, key));
    let cert_bytes = read(Role::ClientCert, cert, &cert_path)?;
    let key_bytes = read(Role::ClientKey, key, &key_path)?;
    let (Ok(chain), Ok(private)) = (certificates(&cert_bytes), private_key(&key_bytes)) else {
        // Each file's own problem is reported where it is named.
        return Ok(());
    };
    rustls::ClientConfig::builder_with_provider(crate::probe::fetch::crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(RootCertStore::empty())
        .with_client_auth_cert(chain, private)
        .map(drop)
        .map_err(|e| {
            format!(
                "the client certificate `{}` and the client key `{}` do not belong together ({e})",
                cert.display(),
                key.display()
            )
        })
}

/// The file's bytes, or why they cannot be read (naming the path tried).
fn read(role: Role, written: &Path, path: &Path) -> Result<Vec<u8>, String> {
    let what = role.what();
    let tried = if written.is_absolute() {
        String::new()
    } else {
        // The full path, so a user who meant "relative to where I run vouch" sees why.
        let full = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        format!(" (tried `{}`, relative to the probe file)", full.display())
    };
    let fail = |why: String| {
        format!(
            "cannot read the {what} `{}`: {why}{tried}",
            written.display()
        )
    };
    let metadata = std::fs::metadata(path).map_err(|e| fail(io_reason(&e)))?;
    if metadata.is_dir() {
        return Err(fail("it is a directory".to_owned()));
    }
    if !metadata.is_file() {
        // A FIFO or a device could block loading forever.
        return Err(fail("it is not a regular file".to_owned()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(io_reason(&e)))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(fail(format!(
            "it is larger than {} MiB, too large for a PEM file",
            MAX_FILE >> 20
        )));
    }
    Ok(bytes)
}

/// An I/O error as a reason, without the `(os error 2)` noise.
fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    }
}

/// The PEM certificates in `bytes`; the error completes "the CA file `x` …".
fn certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| format!("is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(match private_key(bytes) {
            Ok(_) => "holds a private key, not a certificate".to_owned(),
            Err(_) => "holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)".to_owned(),
        });
    }
    Ok(certs)
}

/// The PEM private key in `bytes`; the error completes "the client key `x` …".
fn private_key(bytes: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => {
            "holds no PEM private key (`-----BEGIN PRIVATE KEY-----`, or `RSA`/`EC PRIVATE KEY`)"
                .to_owned()
        }
        other => format!("is not a valid PEM private key: {other}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        let cert = params.self_signed(&key).expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    fn written(dir: &Path, name: &str, text: &str) -> PathBuf {
        std::fs::write(dir.join(name), text).expect("write");
        PathBuf::from(name)
    }

    #[test]
    fn a_missing_file_names_the_path_tried() {
        let dir = tempfile::tempdir().expect("dir");
        let err = check(Role::Ca, Path::new("certs/ca.pem"), dir.path()).expect_err("missing");
        assert!(
            err.starts_with("cannot read the CA file `certs/ca.pem`: no such file (tried `"),
            "{err}"
        );
        assert!(
            err.contains("certs/ca.pem`, relative to the probe file)"),
            "{err}"
        );
    }

    #[test]
    fn text_that_is_not_pem_is_rejected_per_role() {
        let dir = tempfile::tempdir().expect("dir");
        let junk = written(dir.path(), "junk.pem", "hello\n");
        let err = check(Role::Ca, &junk, dir.path()).expect_err("not pem");
        assert!(err.contains("holds no PEM certificate"), "{err}");
        let err = check(Role::ClientKey, &junk, dir.path()).expect_err("not pem");
        assert!(err.contains("holds no PEM private key"), "{err}");
    }

    #[test]
    fn a_key_given_as_a_certificate_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let (_, key) = pair();
        let key = written(dir.path(), "key.pem", &key);
        let err = check(Role::ClientCert, &key, dir.path()).expect_err("a key");
        assert!(
            err.contains("holds a private key, not a certificate"),
            "{err}"
        );
    }

    #[test]
    fn a_certificate_and_its_key_pass_and_a_stranger_key_does_not() {
        let dir = tempfile::tempdir().expect("dir");
        let (cert, key) = pair();
        let (_, other) = pair();
        let cert = written(dir.path(), "cert.pem", &cert);
        let key = written(dir.path(), "key.pem", &key);
        let other = written(dir.path(), "other.pem", &other);
        check(Role::Ca, &cert, dir.path()).expect("a CA");
        check(Role::ClientCert, &cert, dir.path()).expect("a cert");
        check(Role::ClientKey, &key, dir.path()).expect("a key");
        check_pair(&cert, &key, dir.path()).expect("a pair");
        let err = check_pair(&cert, &other, dir.path()).expect_err("mismatch");
        assert!(err.contains("do not belong together"), "{err}");
    }

    #[test]
    fn a_directory_is_not_a_pem_file() {
        let dir = tempfile::tempdir().expect("dir");
        let err = check(Role::Ca, dir.path(), Path::new(".")).expect_err("a directory");
        assert!(err.contains("it is a directory"), "{err}");
    }
}
