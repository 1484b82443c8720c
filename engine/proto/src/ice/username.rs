//! Finding a session from a STUN datagram alone: the local ufrag in USERNAME.
//!
//! A check from an address the shard has never seen can only be matched to its session by
//! the USERNAME "<our ufrag>:<their ufrag>" (RFC 8445, section 7.2.2). This walk over the
//! raw attributes borrows from the datagram and allocates nothing; it proves nothing either,
//! since the session verifies MESSAGE-INTEGRITY afterwards.

const HEADER_LEN: usize = 20;
const BINDING_REQUEST: [u8; 2] = [0x00, 0x01];
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const USERNAME: u16 = 0x0006;

/// The part of a Binding request's USERNAME before the colon: our ufrag. `None` for anything
/// that is not a well-framed Binding request with a USERNAME.
pub fn local_ufrag(datagram: &[u8]) -> Option<&str> {
    let (header, mut attributes) = datagram.split_first_chunk::<HEADER_LEN>()?;
    let (message_type, rest) = header.split_first_chunk::<2>()?;
    let (length, rest) = rest.split_first_chunk::<2>()?;
    let (cookie, _transaction_id) = rest.split_first_chunk::<4>()?;
    let length = usize::from(u16::from_be_bytes(*length));
    if *message_type != BINDING_REQUEST || *cookie != MAGIC_COOKIE || length != attributes.len() {
        return None;
    }
    while let Some((attribute_header, rest)) = attributes.split_first_chunk::<4>() {
        let [t0, t1, l0, l1] = *attribute_header;
        let value_len = usize::from(u16::from_be_bytes([l0, l1]));
        let value = rest.get(..value_len)?;
        if u16::from_be_bytes([t0, t1]) == USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split_once(':').map(|(local, _remote)| local);
        }
        // Attribute values are padded to a multiple of 4 bytes (RFC 8489, section 14).
        attributes = rest.get(value_len.next_multiple_of(4)..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ice::test_peer::CheckRequest;

    #[test]
    fn finds_the_local_ufrag_of_a_check() {
        let request = CheckRequest::new("LOCALufr:remote", "password").encode();
        assert_eq!(local_ufrag(&request), Some("LOCALufr"));
    }

    #[test]
    fn needs_a_colon() {
        let request = CheckRequest::new("nocolon", "password").encode();
        assert_eq!(local_ufrag(&request), None);
    }

    #[test]
    fn ignores_responses_and_indications() {
        let mut request = CheckRequest::new("local:remote", "password").encode();
        request[1] = 0x11; // Binding indication
        assert_eq!(local_ufrag(&request), None);
        request[0] = 0x01; // Binding success response
        request[1] = 0x01;
        assert_eq!(local_ufrag(&request), None);
    }

    #[test]
    fn rejects_non_stun_and_garbage() {
        assert_eq!(local_ufrag(&[]), None);
        assert_eq!(local_ufrag(&[0x00, 0x01]), None);
        assert_eq!(local_ufrag(&[0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(local_ufrag(&[0x80; 64]), None);
    }

    #[test]
    fn never_reads_past_a_truncated_or_lying_datagram() {
        let request = CheckRequest::new("local:remote", "password").encode();
        for len in 0..request.len() {
            assert_eq!(local_ufrag(&request[..len]), None, "prefix of {len} bytes");
        }
        // Header length says more than the datagram holds.
        let mut lying = request.clone();
        lying[3] = lying[3].wrapping_add(4);
        assert_eq!(local_ufrag(&lying), None);
        // USERNAME claims a value longer than the message.
        let mut lying = request;
        lying[HEADER_LEN + 2] = 0xff;
        assert_eq!(local_ufrag(&lying), None);
    }

    #[test]
    fn rejects_a_username_that_is_not_utf8() {
        let mut request = CheckRequest::new("local:remote", "password").encode();
        // The USERNAME value starts right after its attribute header.
        request[HEADER_LEN + 4] = 0xff;
        assert_eq!(local_ufrag(&request), None);
    }
}
