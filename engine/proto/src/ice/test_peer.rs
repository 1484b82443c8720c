//! The controlling browser's side of a check, built with stun-rs, for tests.

use std::net::SocketAddr;

use stun_rs::StunAttributeType;
use stun_rs::attributes::ice::{IceControlling, Priority, UseCandidate};
use stun_rs::attributes::stun::{Fingerprint, MessageIntegrity, UserName, XorMappedAddress};
use stun_rs::methods::BINDING;
use stun_rs::{
    DecoderContextBuilder, HMACKey, MessageClass, MessageDecoderBuilder, MessageEncoder,
    StunMessageBuilder, TransactionId,
};

/// A Binding request as a full, controlling agent sends it (RFC 8445, section 7.1.1).
pub(crate) struct CheckRequest {
    pub username: String,
    pub pwd: String,
    pub class: MessageClass,
    pub transaction_id: TransactionId,
    pub use_candidate: bool,
    pub priority: u32,
    pub integrity: bool,
    pub fingerprint: bool,
}

impl CheckRequest {
    pub fn new(username: &str, pwd: &str) -> Self {
        Self {
            username: username.to_owned(),
            pwd: pwd.to_owned(),
            class: MessageClass::Request,
            transaction_id: TransactionId::from([7; 12]),
            use_candidate: false,
            priority: 0x6e00_1eff,
            integrity: true,
            fingerprint: true,
        }
    }

    pub fn nominating(mut self) -> Self {
        self.use_candidate = true;
        self
    }

    pub fn with_priority(mut self, priority: u32) -> Self {
        self.priority = priority;
        self
    }

    pub fn with_transaction_id(mut self, id: u8) -> Self {
        self.transaction_id = TransactionId::from([id; 12]);
        self
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut builder = StunMessageBuilder::new(BINDING, self.class)
            .with_transaction_id(self.transaction_id)
            .with_attribute(UserName::new(&self.username).unwrap())
            .with_attribute(IceControlling::from(0x1234_5678_9abc_def0))
            .with_attribute(Priority::from(self.priority));
        if self.use_candidate {
            builder = builder.with_attribute(UseCandidate::default());
        }
        if self.integrity {
            let key = HMACKey::new_short_term(&self.pwd).unwrap();
            builder = builder.with_attribute(MessageIntegrity::new(key));
        }
        if self.fingerprint {
            builder = builder.with_attribute(Fingerprint::default());
        }
        let mut buffer = vec![0; 256];
        let len = MessageEncoder::default()
            .encode(&mut buffer, &builder.build())
            .unwrap();
        buffer.truncate(len);
        buffer
    }
}

/// What the browser learns from our answer, after checking its integrity and fingerprint.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct CheckResponse {
    pub transaction_id: TransactionId,
    pub mapped: SocketAddr,
}

/// Decodes a Binding success response, verifying it with stun-rs's own validation (an
/// implementation independent of ours).
pub(super) fn verify_response(datagram: &[u8], pwd: &str) -> Result<CheckResponse, String> {
    let context = DecoderContextBuilder::default()
        .with_key(HMACKey::new_short_term(pwd).unwrap())
        .with_validation()
        .build();
    let decoder = MessageDecoderBuilder::default()
        .with_context(context)
        .build();
    let (message, len) = decoder.decode(datagram).map_err(|e| e.to_string())?;
    if len != datagram.len() {
        return Err("trailing bytes".into());
    }
    if message.method() != BINDING || message.class() != MessageClass::SuccessResponse {
        return Err("not a Binding success response".into());
    }
    for required in [MessageIntegrity::get_type(), Fingerprint::get_type()] {
        if !message
            .attributes()
            .iter()
            .any(|a| a.attribute_type() == required)
        {
            return Err(format!("missing {required:?}"));
        }
    }
    let mapped = message
        .get::<XorMappedAddress>()
        .ok_or("no XOR-MAPPED-ADDRESS")?
        .as_xor_mapped_address()
        .map_err(|e| e.to_string())?
        .socket_address();
    Ok(CheckResponse {
        transaction_id: *message.transaction_id(),
        mapped: *mapped,
    })
}
