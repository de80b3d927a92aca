//! Which of the certificates a server sent are on the path the verifier
//! built (leaf → intermediates → trust anchor), so that chain expiry counts
//! only those: an expired cross-sign or stale root sent alongside a chain
//! that verifies is not the chain expiring.

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

use super::super::fetch;

/// The verified path, in terms of what was sent and what is trusted.
#[derive(Debug, Clone, Default)]
pub(super) struct VerifiedPath {
    /// Whether each sent certificate (leaf first) is on the path.
    pub on_path: Vec<bool>,
    /// The trust anchor's own certificate, when one of the known roots is it
    /// (the latest-expiring one if several share its name and key).
    pub anchor: Option<CertificateDer<'static>>,
}

/// Builds the path from `chain` (leaf first, as sent) to one of `roots`, as
/// the verifier does; `None` when the chain does not verify at `now`.
/// `root_certs` are the certificates `roots` was made from, to find the
/// anchor's own certificate and its expiry.
pub(super) fn verified_path(
    chain: &[CertificateDer<'static>],
    roots: &RootCertStore,
    root_certs: &[CertificateDer<'static>],
    now: UnixTime,
    not_after: impl Fn(&CertificateDer<'static>) -> Option<i64>,
) -> Option<VerifiedPath> {
    let (leaf, intermediates) = chain.split_first()?;
    let end_entity = EndEntityCert::try_from(leaf).ok()?;
    let algorithms = fetch::crypto_provider()
        .signature_verification_algorithms
        .all;
    let path = end_entity
        .verify_for_usage(
            algorithms,
            &roots.roots,
            intermediates,
            now,
            KeyUsage::server_auth(),
            None,
            None,
        )
        .ok()?;
    let used: Vec<CertificateDer<'_>> = path.intermediate_certificates().map(|c| c.der()).collect();
    let anchor = path.anchor();
    let is_anchor = |cert: &CertificateDer<'_>| {
        webpki::anchor_from_trusted_cert(cert).is_ok_and(|a| same_anchor(&a, anchor))
    };
    let on_path = chain
        .iter()
        .enumerate()
        .map(|(i, cert)| {
            i == 0 || used.iter().any(|u| u.as_ref() == cert.as_ref()) || is_anchor(cert)
        })
        .collect();
    let anchor = root_certs
        .iter()
        .filter(|c| is_anchor(c))
        .max_by_key(|c| not_after(c).unwrap_or(i64::MIN))
        .cloned();
    Some(VerifiedPath { on_path, anchor })
}

fn same_anchor(a: &TrustAnchor<'_>, b: &TrustAnchor<'_>) -> bool {
    a.subject.as_ref() == b.subject.as_ref()
        && a.subject_public_key_info.as_ref() == b.subject_public_key_info.as_ref()
}
