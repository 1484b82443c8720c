//! SRTP master keys from the DTLS exporter, split by direction (RFC 5764 section 4.2).

use std::fmt;

use shardcast_control::DtlsRole;

use super::{SrtpError, SrtpProfile};

/// One direction's master key and salt.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpMasterKey {
    pub key: Vec<u8>,
    pub salt: Vec<u8>,
}

/// Keys are secrets: never print them.
impl fmt::Debug for SrtpMasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpMasterKey")
            .field("key_len", &self.key.len())
            .field("salt_len", &self.salt.len())
            .finish()
    }
}

/// Everything an [`SrtpSession`](super::SrtpSession) needs: what we send with and what the peer
/// sends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    pub profile: SrtpProfile,
    /// Protects what we send.
    pub local: SrtpMasterKey,
    /// Unprotects what the peer sends.
    pub remote: SrtpMasterKey,
}

impl SrtpKeys {
    /// Splits the DTLS-SRTP exporter output. Its layout is client key, server key, client salt,
    /// server salt; the client is the side that sent the ClientHello.
    pub fn from_exported(
        profile: SrtpProfile,
        material: &[u8],
        our_role: DtlsRole,
    ) -> Result<Self, SrtpError> {
        let key_len = profile.master_key_len();
        let salt_len = profile.master_salt_len();
        let expected = 2 * (key_len + salt_len);
        if material.len() != expected {
            return Err(SrtpError::KeyingMaterialLength {
                expected,
                actual: material.len(),
            });
        }
        let (client_key, rest) = material.split_at(key_len);
        let (server_key, rest) = rest.split_at(key_len);
        let (client_salt, server_salt) = rest.split_at(salt_len);
        let client = SrtpMasterKey {
            key: client_key.to_vec(),
            salt: client_salt.to_vec(),
        };
        let server = SrtpMasterKey {
            key: server_key.to_vec(),
            salt: server_salt.to_vec(),
        };
        let (local, remote) = match our_role {
            DtlsRole::Client => (client, server),
            DtlsRole::Server => (server, client),
        };
        Ok(Self {
            profile,
            local,
            remote,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting_material(len: usize) -> Vec<u8> {
        (0..len).map(|i| i as u8).collect()
    }

    #[test]
    fn client_writes_with_the_first_key_and_first_salt() {
        let material = counting_material(56);
        let keys = SrtpKeys::from_exported(SrtpProfile::AeadAes128Gcm, &material, DtlsRole::Client)
            .unwrap();
        assert_eq!(keys.local.key, material[0..16]);
        assert_eq!(keys.remote.key, material[16..32]);
        assert_eq!(keys.local.salt, material[32..44]);
        assert_eq!(keys.remote.salt, material[44..56]);
    }

    #[test]
    fn the_two_roles_see_mirrored_keys() {
        let material = counting_material(60);
        let profile = SrtpProfile::Aes128CmHmacSha1_80;
        let client = SrtpKeys::from_exported(profile, &material, DtlsRole::Client).unwrap();
        let server = SrtpKeys::from_exported(profile, &material, DtlsRole::Server).unwrap();
        assert_eq!(client.local, server.remote);
        assert_eq!(client.remote, server.local);
        assert_eq!(server.local.salt, material[46..60]);
    }

    #[test]
    fn wrong_length_is_an_error() {
        let material = counting_material(55);
        let err = SrtpKeys::from_exported(SrtpProfile::AeadAes128Gcm, &material, DtlsRole::Server)
            .unwrap_err();
        assert!(matches!(
            err,
            SrtpError::KeyingMaterialLength {
                expected: 56,
                actual: 55
            }
        ));
    }

    #[test]
    fn debug_does_not_print_key_bytes() {
        let material = vec![0xAB; 56];
        let keys = SrtpKeys::from_exported(SrtpProfile::AeadAes128Gcm, &material, DtlsRole::Client)
            .unwrap();
        let printed = format!("{keys:?}");
        assert!(!printed.contains("171"));
        assert!(!printed.to_lowercase().contains("ab, "));
    }
}
