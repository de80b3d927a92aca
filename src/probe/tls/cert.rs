//! One certificate as the `tls` probe reports it, read by x509-parser.

use serde_json::{Value as Json, json};

use super::KeyType;
use super::expiry::{days_left, seconds_left};
use super::rfc3339;

/// One certificate, as read by x509-parser.
#[derive(Debug, Clone)]
pub(super) struct CertInfo {
    pub(super) subject: String,
    pub(super) issuer: String,
    pub(super) sans: Vec<String>,
    pub(super) serial: String,
    pub(super) not_before: i64,
    pub(super) not_after: i64,
    pub(super) key_type: Option<KeyType>,
    pub(super) key_name: String,
    pub(super) key_bits: u32,
    pub(super) is_ca: bool,
}

impl CertInfo {
    pub(super) fn parse(der: &[u8]) -> Result<CertInfo, String> {
        use x509_parser::extensions::GeneralName;
        use x509_parser::public_key::PublicKey;

        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("unparsable certificate: {e}"))?;
        let mut sans = Vec::new();
        if let Ok(Some(ext)) = cert.subject_alternative_name() {
            for name in &ext.value.general_names {
                match name {
                    GeneralName::DNSName(d) => sans.push((*d).to_owned()),
                    GeneralName::IPAddress(bytes) => sans.push(ip_text(bytes)),
                    GeneralName::RFC822Name(m) => sans.push(format!("email:{m}")),
                    GeneralName::URI(u) => sans.push(format!("uri:{u}")),
                    _ => {}
                }
            }
        }
        let spki = cert.public_key();
        let algorithm = spki.algorithm.algorithm.to_id_string();
        let parsed = spki.parsed();
        let bits = parsed
            .as_ref()
            .map_or(0, PublicKey::key_size)
            .try_into()
            .unwrap_or(u32::MAX);
        let (key_type, key_name, key_bits) = match (algorithm.as_str(), &parsed) {
            (_, Ok(PublicKey::RSA(_))) => (Some(KeyType::Rsa), "rsa".to_owned(), bits),
            (_, Ok(PublicKey::EC(_))) => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|oid| curve_name(&oid.to_id_string()));
                let name = match curve {
                    Some(c) => format!("ecdsa {c}"),
                    None => "ecdsa".to_owned(),
                };
                (Some(KeyType::Ecdsa), name, bits)
            }
            ("1.3.101.112", _) => (Some(KeyType::Ed25519), "ed25519".to_owned(), 256),
            (other, _) => (None, other.to_owned(), bits),
        };
        Ok(CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            sans,
            serial: cert.raw_serial_as_string(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            key_type,
            key_name,
            key_bits,
            is_ca: cert.is_ca(),
        })
    }

    pub(super) fn record(&self, now: i64) -> Json {
        json!({
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": self.sans,
            "serial": self.serial,
            "not_before": rfc3339(self.not_before),
            "not_after": rfc3339(self.not_after),
            "days_left": days_left(self.not_after, now),
            "seconds_left": seconds_left(self.not_after, now),
            "key": {"type": self.key_name, "bits": self.key_bits},
            "ca": self.is_ca,
        })
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256".to_owned(),
        "1.3.132.0.34" => "P-384".to_owned(),
        "1.3.132.0.35" => "P-521".to_owned(),
        other => other.to_owned(),
    }
}

fn ip_text(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        std::net::Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        std::net::Ipv6Addr::from(v6).to_string()
    } else {
        format!("{bytes:02x?}")
    }
}
