//! Checks the peer's certificate against the `a=fingerprint` of its SDP (RFC 8122 section 5).

use aws_lc_rs::digest;
use shardcast_control::Fingerprint;

use super::DtlsError;

/// A signalled fingerprint, ready to compare against a DER certificate.
pub(super) struct ExpectedFingerprint {
    algorithm: &'static digest::Algorithm,
    value: Vec<u8>,
}

impl ExpectedFingerprint {
    pub(super) fn new(fingerprint: Fingerprint) -> Result<Self, DtlsError> {
        // RFC 8122 names the hashes as in the IANA "Hash Function Textual Names" registry;
        // browsers use the lowercase spelling, older endpoints uppercase.
        let algorithm = match fingerprint.algorithm.to_ascii_lowercase().as_str() {
            "sha-1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            "sha-256" => &digest::SHA256,
            "sha-384" => &digest::SHA384,
            "sha-512" => &digest::SHA512,
            _ => {
                return Err(DtlsError::UnsupportedFingerprintAlgorithm(
                    fingerprint.algorithm,
                ));
            }
        };
        Ok(Self {
            algorithm,
            value: fingerprint.value,
        })
    }

    pub(super) fn matches(&self, der: &[u8]) -> bool {
        digest::digest(self.algorithm, der).as_ref() == self.value.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtls::Certificate;

    fn fingerprint(algorithm: &str, value: Vec<u8>) -> Fingerprint {
        Fingerprint {
            algorithm: algorithm.into(),
            value,
        }
    }

    #[test]
    fn every_offered_hash_matches_its_own_digest() {
        let certificate = Certificate::generate().unwrap();
        let der = certificate.dimpl().certificate;
        for (name, algorithm) in [
            ("sha-1", &digest::SHA1_FOR_LEGACY_USE_ONLY),
            ("SHA-256", &digest::SHA256),
            ("sha-384", &digest::SHA384),
            ("sha-512", &digest::SHA512),
        ] {
            let value = digest::digest(algorithm, &der).as_ref().to_vec();
            let expected = ExpectedFingerprint::new(fingerprint(name, value)).unwrap();
            assert!(expected.matches(&der), "{name}");
            assert!(!expected.matches(&der[1..]), "{name}");
        }
    }

    #[test]
    fn sha256_of_another_certificate_does_not_match() {
        let ours = Certificate::generate().unwrap();
        let theirs = Certificate::generate().unwrap();
        let expected = ExpectedFingerprint::new(ours.fingerprint().clone()).unwrap();
        assert!(expected.matches(&ours.dimpl().certificate));
        assert!(!expected.matches(&theirs.dimpl().certificate));
    }

    #[test]
    fn unknown_hash_is_refused() {
        let err = ExpectedFingerprint::new(fingerprint("md5", vec![0; 16])).err();
        assert!(matches!(
            err,
            Some(DtlsError::UnsupportedFingerprintAlgorithm(name)) if name == "md5"
        ));
    }
}
