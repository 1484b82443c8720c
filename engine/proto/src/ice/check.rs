//! One connectivity check: is a Binding request authentic, and the success response to it.
//!
//! stun-rs parses and builds the messages. MESSAGE-INTEGRITY of requests is verified here
//! with aws-lc-rs instead of by the stun-rs decoder, because its comparison is not
//! constant-time and a forged check could move where we send media.

use std::net::SocketAddr;

use aws_lc_rs::hmac;
use stun_rs::attributes::ice::{Priority, UseCandidate};
use stun_rs::attributes::stun::{Fingerprint, MessageIntegrity, UserName, XorMappedAddress};
use stun_rs::methods::BINDING;
use stun_rs::{
    HMACKey, MessageClass, MessageDecoder, MessageEncoder, StunMessage, StunMessageBuilder,
    TransactionId, get_input_text,
};

use super::error::IceError;

/// MESSAGE-INTEGRITY carries an HMAC-SHA1 after its 4-byte attribute header.
const INTEGRITY_VALUE: std::ops::Range<usize> = 4..24;
/// Header, XOR-MAPPED-ADDRESS (IPv6), MESSAGE-INTEGRITY and FINGERPRINT, with room to spare.
const RESPONSE_CAPACITY: usize = 128;

/// What the peer sent, once it passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inbound {
    /// An authentic Binding request.
    Check {
        transaction_id: TransactionId,
        use_candidate: bool,
        /// The PRIORITY attribute (RFC 8445 7.1.1): what the peer's candidate would be worth
        /// as peer-reflexive. Our candidates are all host candidates of one priority, so
        /// pairs rank by it alone. 0 when absent.
        priority: u32,
    },
    /// A Binding indication: a keepalive that needs no answer and proves nothing.
    Indication,
}

/// Verifies checks for one pair of credentials and signs the answers.
pub(super) struct CheckVerifier {
    expected_username: String,
    local_pwd: String,
    integrity_key: hmac::Key,
    decoder: MessageDecoder,
    encoder: MessageEncoder,
}

impl CheckVerifier {
    /// Checks must carry USERNAME "<local ufrag>:<remote ufrag>" and be signed with our pwd.
    pub(super) fn new(local_ufrag: &str, local_pwd: &str, remote_ufrag: &str) -> Self {
        // ICE passwords are ice-chars (ASCII), which the short-term key derivation (the
        // OpaqueString profile, RFC 8489 section 9.1.1) leaves as they are.
        let integrity_key =
            hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, local_pwd.as_bytes());
        Self {
            expected_username: format!("{local_ufrag}:{remote_ufrag}"),
            local_pwd: local_pwd.to_owned(),
            integrity_key,
            decoder: MessageDecoder::default(),
            encoder: MessageEncoder::default(),
        }
    }

    /// Classifies a datagram, accepting only authentic Binding requests and indications.
    pub(super) fn verify(&self, datagram: &[u8]) -> Result<Inbound, IceError> {
        let message = self.decode(datagram)?;
        if message.method() != BINDING {
            return Err(IceError::NotBindingRequest);
        }
        match message.class() {
            MessageClass::Request => {}
            MessageClass::Indication => return Ok(Inbound::Indication),
            MessageClass::SuccessResponse | MessageClass::ErrorResponse => {
                return Err(IceError::NotBindingRequest);
            }
        }
        self.verify_fingerprint(&message, datagram)?;
        self.verify_username(&message)?;
        self.verify_integrity(&message, datagram)?;
        Ok(Inbound::Check {
            transaction_id: *message.transaction_id(),
            use_candidate: message.get::<UseCandidate>().is_some(),
            priority: message
                .get::<Priority>()
                .and_then(|attribute| attribute.as_priority().ok())
                .map_or(0, |priority| priority.as_u32()),
        })
    }

    /// A Binding success response telling the peer the address we saw it at.
    pub(super) fn success_response(
        &self,
        transaction_id: TransactionId,
        source: SocketAddr,
    ) -> Result<Vec<u8>, IceError> {
        let key =
            HMACKey::new_short_term(&self.local_pwd).map_err(|_| IceError::ResponseEncoding)?;
        // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; the peer knows itself
        // by the IPv4 address.
        let mapped = SocketAddr::new(source.ip().to_canonical(), source.port());
        let response = StunMessageBuilder::new(BINDING, MessageClass::SuccessResponse)
            .with_transaction_id(transaction_id)
            .with_attribute(XorMappedAddress::from(mapped))
            .with_attribute(MessageIntegrity::new(key))
            .with_attribute(Fingerprint::default())
            .build();
        let mut buffer = vec![0; RESPONSE_CAPACITY];
        let len = self
            .encoder
            .encode(&mut buffer, &response)
            .map_err(|_| IceError::ResponseEncoding)?;
        buffer.truncate(len);
        Ok(buffer)
    }

    fn decode(&self, datagram: &[u8]) -> Result<StunMessage, IceError> {
        let (message, len) = self
            .decoder
            .decode(datagram)
            .map_err(|_| IceError::Malformed)?;
        // The decoder stops at the header's length; trailing bytes mean a broken datagram.
        if len != datagram.len() {
            return Err(IceError::Malformed);
        }
        Ok(message)
    }

    fn verify_fingerprint(&self, message: &StunMessage, datagram: &[u8]) -> Result<(), IceError> {
        let fingerprint = message
            .get::<Fingerprint>()
            .and_then(|attribute| attribute.as_fingerprint().ok())
            .ok_or(IceError::MissingFingerprint)?;
        let covered = get_input_text::<Fingerprint>(datagram).ok_or(IceError::Malformed)?;
        if fingerprint.validate(&covered) {
            Ok(())
        } else {
            Err(IceError::BadFingerprint)
        }
    }

    fn verify_username(&self, message: &StunMessage) -> Result<(), IceError> {
        let username = message
            .get::<UserName>()
            .and_then(|attribute| attribute.as_user_name().ok())
            .ok_or(IceError::MissingUsername)?;
        if username.as_str() == self.expected_username {
            Ok(())
        } else {
            Err(IceError::WrongUsername)
        }
    }

    fn verify_integrity(&self, message: &StunMessage, datagram: &[u8]) -> Result<(), IceError> {
        if message.get::<MessageIntegrity>().is_none() {
            return Err(IceError::MissingIntegrity);
        }
        // The covered text is the message up to the attribute, so the attribute itself
        // starts right where it ends.
        let covered = get_input_text::<MessageIntegrity>(datagram).ok_or(IceError::Malformed)?;
        let tag = datagram
            .get(covered.len()..)
            .and_then(|attribute| attribute.get(INTEGRITY_VALUE))
            .ok_or(IceError::Malformed)?;
        hmac::verify(&self.integrity_key, &covered, tag).map_err(|_| IceError::BadIntegrity)
    }
}
