//! SDP for WHIP and WHEP: parse the offer, negotiate it against what the engine supports,
//! and write the answer from the shard's reply.

pub mod answer;
pub mod codecs;
pub mod fragment;
pub mod negotiate;
pub mod offer;
pub mod parse;
pub mod rid;
pub mod simulcast;

use std::fmt;

/// Why an offer (or fragment) was refused; `line` is 1-based when one line is to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpError {
    pub line: Option<usize>,
    pub reason: String,
}

impl SdpError {
    pub fn at(line: usize, reason: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            reason: reason.into(),
        }
    }

    pub fn general(reason: impl Into<String>) -> Self {
        Self {
            line: None,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "invalid SDP at line {line}: {}", self.reason),
            None => write!(f, "invalid SDP: {}", self.reason),
        }
    }
}

impl std::error::Error for SdpError {}
