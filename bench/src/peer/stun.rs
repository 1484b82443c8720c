//! The STUN messages of a controlling ICE agent (RFC 8445 section 7, RFC 8489), built and
//! checked with stun-rs: our Binding requests, the server's responses to them, and the
//! server's own requests (a full-ICE server checks back) with our answers.

use std::net::SocketAddr;

use stun_rs::attributes::ice::{IceControlling, Priority, UseCandidate};
use stun_rs::attributes::stun::{Fingerprint, MessageIntegrity, UserName, XorMappedAddress};
use stun_rs::methods::BINDING;
use stun_rs::{
    DecoderContextBuilder, HMACKey, MessageClass, MessageDecoderBuilder, MessageEncoder,
    StunMessage, StunMessageBuilder, TransactionId,
};

/// A Binding request or response with every attribute we send fits easily.
const MESSAGE_CAPACITY: usize = 256;

/// A check as the controlling agent sends it.
pub struct CheckRequest<'a> {
    pub transaction_id: TransactionId,
    /// "<server ufrag>:<our ufrag>".
    pub username: &'a str,
    /// The server's password: it signs the request.
    pub remote_pwd: &'a str,
    pub priority: u32,
    pub tie_breaker: u64,
    pub use_candidate: bool,
}

impl CheckRequest<'_> {
    /// None only if the credentials cannot be STUN credentials (not OpaqueString text).
    pub fn encode(&self) -> Option<Vec<u8>> {
        let key = HMACKey::new_short_term(self.remote_pwd).ok()?;
        let mut builder = StunMessageBuilder::new(BINDING, MessageClass::Request)
            .with_transaction_id(self.transaction_id)
            .with_attribute(UserName::new(self.username).ok()?)
            .with_attribute(IceControlling::from(self.tie_breaker))
            .with_attribute(Priority::from(self.priority));
        if self.use_candidate {
            builder = builder.with_attribute(UseCandidate::default());
        }
        let message = builder
            .with_attribute(MessageIntegrity::new(key))
            .with_attribute(Fingerprint::default())
            .build();
        encode(&message)
    }
}

/// An authentic STUN message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A response to one of our checks; `success` false for an error response.
    Response {
        transaction_id: TransactionId,
        success: bool,
    },
    /// The server checks us; answer with [`success_response`].
    Request { transaction_id: TransactionId },
}

/// Decodes a STUN datagram and verifies it: responses are signed with the server's password,
/// requests with ours and must name us. Anything else (indications, forgeries, garbage) is
/// None.
pub fn verify(
    datagram: &[u8],
    remote_pwd: &str,
    local_pwd: &str,
    expected_username: &str,
) -> Option<Inbound> {
    let class = message_class(datagram)?;
    let pwd = match class {
        MessageClass::Request => local_pwd,
        MessageClass::SuccessResponse | MessageClass::ErrorResponse => remote_pwd,
        MessageClass::Indication => return None,
    };
    let message = decode_verified(datagram, pwd)?;
    if message.method() != BINDING {
        return None;
    }
    let transaction_id = *message.transaction_id();
    match class {
        MessageClass::Request => {
            let username = message.get::<UserName>()?.as_user_name().ok()?;
            (username.as_str() == expected_username).then_some(Inbound::Request { transaction_id })
        }
        MessageClass::SuccessResponse => Some(Inbound::Response {
            transaction_id,
            success: true,
        }),
        MessageClass::ErrorResponse | MessageClass::Indication => Some(Inbound::Response {
            transaction_id,
            success: false,
        }),
    }
}

/// Our answer to the server's check: where we saw it from, signed with our password.
pub fn success_response(
    transaction_id: TransactionId,
    source: SocketAddr,
    local_pwd: &str,
) -> Option<Vec<u8>> {
    let key = HMACKey::new_short_term(local_pwd).ok()?;
    let message = StunMessageBuilder::new(BINDING, MessageClass::SuccessResponse)
        .with_transaction_id(transaction_id)
        .with_attribute(XorMappedAddress::from(source))
        .with_attribute(MessageIntegrity::new(key))
        .with_attribute(Fingerprint::default())
        .build();
    encode(&message)
}

/// The class from the 14-bit message type (RFC 8489 section 5): C1 is bit 8, C0 bit 4.
fn message_class(datagram: &[u8]) -> Option<MessageClass> {
    let [high, low] = *datagram.get(..2)? else {
        return None;
    };
    let message_type = u16::from_be_bytes([high, low]);
    let class = ((message_type >> 7) & 0b10) | ((message_type >> 4) & 0b01);
    Some(match class {
        0b00 => MessageClass::Request,
        0b01 => MessageClass::Indication,
        0b10 => MessageClass::SuccessResponse,
        _ => MessageClass::ErrorResponse,
    })
}

/// Decodes with stun-rs's validation of MESSAGE-INTEGRITY and FINGERPRINT, and insists that
/// the integrity attribute is there at all (validation only covers what is present).
fn decode_verified(datagram: &[u8], pwd: &str) -> Option<StunMessage> {
    let context = DecoderContextBuilder::default()
        .with_key(HMACKey::new_short_term(pwd).ok()?)
        .with_validation()
        .build();
    let decoder = MessageDecoderBuilder::default()
        .with_context(context)
        .build();
    let (message, len) = decoder.decode(datagram).ok()?;
    let complete = len == datagram.len();
    let signed = message.get::<MessageIntegrity>().is_some();
    (complete && signed).then_some(message)
}

fn encode(message: &StunMessage) -> Option<Vec<u8>> {
    let mut buffer = vec![0; MESSAGE_CAPACITY];
    let len = MessageEncoder::default()
        .encode(&mut buffer, message)
        .ok()?;
    buffer.truncate(len);
    Some(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(use_candidate: bool) -> Vec<u8> {
        CheckRequest {
            transaction_id: TransactionId::from([5; 12]),
            username: "server:client",
            remote_pwd: "serverpasswordserverpwd",
            priority: 0x6e00_1eff,
            tie_breaker: 42,
            use_candidate,
        }
        .encode()
        .unwrap()
    }

    #[test]
    fn our_check_verifies_as_a_request_with_the_server_password() {
        let datagram = request(true);
        let inbound = verify(&datagram, "x", "serverpasswordserverpwd", "server:client");
        assert_eq!(
            inbound,
            Some(Inbound::Request {
                transaction_id: TransactionId::from([5; 12])
            })
        );
        assert_eq!(
            verify(&datagram, "x", "wrong-password-wrong", "server:client"),
            None
        );
        assert_eq!(
            verify(&datagram, "x", "serverpasswordserverpwd", "other:client"),
            None
        );
    }

    #[test]
    fn responses_verify_with_the_remote_password_only() {
        let source: SocketAddr = "[2001:db8::1]:4000".parse().unwrap();
        let id = TransactionId::from([9; 12]);
        let response = success_response(id, source, "serverpasswordserverpwd").unwrap();
        assert_eq!(
            verify(&response, "serverpasswordserverpwd", "ours", ""),
            Some(Inbound::Response {
                transaction_id: id,
                success: true
            })
        );
        assert_eq!(verify(&response, "another-password-here", "ours", ""), None);
        let mut tampered = response.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            verify(&tampered, "serverpasswordserverpwd", "ours", ""),
            None
        );
    }

    #[test]
    fn garbage_and_truncations_are_rejected_without_panicking() {
        let datagram = request(false);
        for len in 0..datagram.len() {
            assert_eq!(
                verify(
                    &datagram[..len],
                    "x",
                    "serverpasswordserverpwd",
                    "server:client"
                ),
                None
            );
        }
        assert_eq!(verify(&[0, 1, 0, 0, 0xff], "a", "b", "c"), None);
    }
}
