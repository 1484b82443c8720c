//! Our side's ICE username fragment and password (RFC 8445, section 5.3).

use rand::Rng;
use rand::distr::Alphanumeric;

/// Length of a generated username fragment (RFC 8839 asks for at least 4 characters).
const UFRAG_LEN: usize = 8;
/// Length of a generated password (RFC 8839 asks for at least 22 characters: 128 bits).
const PWD_LEN: usize = 24;

/// Short-term credentials of one ICE agent: `a=ice-ufrag` and `a=ice-pwd` in SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCredentials {
    pub ufrag: String,
    pub pwd: String,
}

impl IceCredentials {
    /// Fresh credentials of alphanumerics only, a subset of the ice-char grammar that needs
    /// no escaping anywhere (SDP, JSON, STUN USERNAME).
    pub fn random(rng: &mut impl Rng) -> Self {
        Self {
            ufrag: random_alphanumeric(rng, UFRAG_LEN),
            pwd: random_alphanumeric(rng, PWD_LEN),
        }
    }
}

fn random_alphanumeric(rng: &mut impl Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn random_credentials_have_the_advertised_shape() {
        let mut rng = StdRng::seed_from_u64(7);
        let credentials = IceCredentials::random(&mut rng);
        assert_eq!(credentials.ufrag.len(), UFRAG_LEN);
        assert_eq!(credentials.pwd.len(), PWD_LEN);
        assert!(credentials.ufrag.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(credentials.pwd.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn successive_credentials_differ() {
        let mut rng = StdRng::seed_from_u64(7);
        let first = IceCredentials::random(&mut rng);
        let second = IceCredentials::random(&mut rng);
        assert_ne!(first.ufrag, second.ufrag);
        assert_ne!(first.pwd, second.pwd);
    }
}
