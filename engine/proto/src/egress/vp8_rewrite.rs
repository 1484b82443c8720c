//! VP8 picture numbering across simulcast layer switches (RFC 7741 4.2).
//!
//! Each layer of a simulcast stream numbers its pictures on its own: a 7- or 15-bit
//! PictureID and an 8-bit TL0PICIDX in the payload descriptor. A decoder that sees the
//! numbers jump when the viewer's layer changes takes the jump for lost pictures, so each
//! mapping (one source layer) gets offsets that make its first picture follow the last one
//! sent, and every packet is renumbered in place in the output buffer. The width of the
//! PictureID field stays as the packet has it.

use super::rewrite::Mapping;

const X_EXTENSION: u8 = 0x80;
const I_PICTURE_ID: u8 = 0x80;
const L_TL0PICIDX: u8 = 0x40;
const M_LONG_PICTURE_ID: u8 = 0x80;
/// A long PictureID counts modulo 2^15, a short one modulo 2^7.
const LONG_MASK: u16 = 0x7fff;
const SHORT_MASK: u16 = 0x7f;

/// Where a descriptor's numbering fields sit in a payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fields {
    /// (offset, long) of the PictureID.
    picture_id: Option<(usize, bool)>,
    tl0: Option<usize>,
}

impl Fields {
    /// Finds the fields of `payload`'s descriptor; none for a payload too short to hold them.
    fn find(payload: &[u8]) -> Self {
        let mut fields = Self::default();
        let (Some(&first), Some(&extension)) = (payload.first(), payload.get(1)) else {
            return fields;
        };
        if first & X_EXTENSION == 0 {
            return fields;
        }
        let mut at = 2;
        if extension & I_PICTURE_ID != 0 {
            let Some(&id) = payload.get(at) else {
                return fields;
            };
            let long = id & M_LONG_PICTURE_ID != 0;
            let width = if long { 2 } else { 1 };
            if payload.len() < at + width {
                return fields;
            }
            fields.picture_id = Some((at, long));
            at += width;
        }
        if extension & L_TL0PICIDX != 0 && at < payload.len() {
            fields.tl0 = Some(at);
        }
        fields
    }

    /// The PictureID (in the 15-bit space either way) and TL0PICIDX `payload` carries.
    fn read(self, payload: &[u8]) -> (Option<u16>, Option<u8>) {
        let picture_id = self.picture_id.and_then(|(at, long)| {
            if long {
                let bytes = payload.get(at..at + 2)?;
                Some(u16::from_be_bytes([bytes[0], bytes[1]]) & LONG_MASK)
            } else {
                payload.get(at).map(|&b| u16::from(b) & SHORT_MASK)
            }
        });
        let tl0 = self.tl0.and_then(|at| payload.get(at).copied());
        (picture_id, tl0)
    }
}

/// What one mapping adds to its source's numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Offsets {
    /// Modulo 2^15; a short PictureID takes it modulo 2^7.
    picture_id: u16,
    tl0: u8,
}

/// Renumbers the VP8 pictures of one outgoing track. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct PictureRewriter {
    current: Offsets,
    /// The mapping before the current one, for retransmissions of what it sent.
    previous: Offsets,
    /// The newest numbers sent, where the next mapping continues from.
    last_picture_id: Option<u16>,
    last_tl0: Option<u8>,
}

impl PictureRewriter {
    /// A new mapping starts with the packet whose source payload is `first`: its picture
    /// becomes the one after the last picture sent.
    pub fn start_mapping(&mut self, first: &[u8]) {
        let (picture_id, tl0) = Fields::find(first).read(first);
        self.previous = self.current;
        self.current = Offsets {
            picture_id: match (self.last_picture_id, picture_id) {
                (Some(last), Some(id)) => last.wrapping_add(1).wrapping_sub(id) & LONG_MASK,
                _ => 0,
            },
            tl0: match (self.last_tl0, tl0) {
                (Some(last), Some(id)) => last.wrapping_add(1).wrapping_sub(id),
                _ => 0,
            },
        };
    }

    /// Renumbers the payload of a written packet in place, through `mapping`'s offsets.
    /// `newest` when it is the newest packet sent so far: the next mapping continues from it.
    pub fn rewrite(&mut self, payload: &mut [u8], mapping: Mapping, newest: bool) {
        let offsets = match mapping {
            Mapping::Current => self.current,
            Mapping::Previous => self.previous,
        };
        let fields = Fields::find(payload);
        if let Some((at, long)) = fields.picture_id {
            let id = if long {
                let value = u16::from_be_bytes([payload[at], payload[at + 1]]);
                let id = value.wrapping_add(offsets.picture_id) & LONG_MASK;
                payload[at..at + 2].copy_from_slice(&(id | 0x8000).to_be_bytes());
                id
            } else {
                let id = u16::from(payload[at]).wrapping_add(offsets.picture_id) & SHORT_MASK;
                payload[at] = id as u8;
                id
            };
            if newest {
                self.last_picture_id = Some(id);
            }
        }
        if let Some(at) = fields.tl0 {
            payload[at] = payload[at].wrapping_add(offsets.tl0);
            if newest {
                self.last_tl0 = Some(payload[at]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor with a long (or short) PictureID and a TL0PICIDX, then a payload byte.
    fn descriptor(picture_id: u16, long: bool, tl0: u8) -> Vec<u8> {
        let mut bytes = vec![0x90, I_PICTURE_ID | L_TL0PICIDX];
        if long {
            bytes.extend_from_slice(&(picture_id | 0x8000).to_be_bytes());
        } else {
            bytes.push(picture_id as u8 & 0x7f);
        }
        bytes.extend_from_slice(&[tl0, 0xaa]);
        bytes
    }

    fn numbers(payload: &[u8]) -> (Option<u16>, Option<u8>) {
        Fields::find(payload).read(payload)
    }

    fn sent(rewriter: &mut PictureRewriter, mut payload: Vec<u8>) -> (Option<u16>, Option<u8>) {
        rewriter.rewrite(&mut payload, Mapping::Current, true);
        numbers(&payload)
    }

    #[test]
    fn finds_the_fields_of_every_descriptor_shape() {
        assert_eq!(
            numbers(&descriptor(0x1234, true, 9)),
            (Some(0x1234), Some(9))
        );
        assert_eq!(numbers(&descriptor(0x45, false, 3)), (Some(0x45), Some(3)));
        // No X bit, or I and L clear: nothing to renumber.
        assert_eq!(numbers(&[0x10, 0x50]), (None, None));
        assert_eq!(numbers(&[0x90, 0x00, 0x50]), (None, None));
        // L alone.
        assert_eq!(numbers(&[0x90, 0x40, 0x07]), (None, Some(7)));
        // Cut short inside a long PictureID.
        assert_eq!(numbers(&[0x90, 0x80, 0x81]), (None, None));
        assert_eq!(numbers(&[]), (None, None));
    }

    #[test]
    fn the_first_mapping_keeps_the_source_numbers() {
        let mut rewriter = PictureRewriter::default();
        let first = descriptor(500, true, 40);
        rewriter.start_mapping(&first);
        assert_eq!(sent(&mut rewriter, first), (Some(500), Some(40)));
        assert_eq!(
            sent(&mut rewriter, descriptor(501, true, 41)),
            (Some(501), Some(41))
        );
    }

    #[test]
    fn a_switch_continues_from_the_last_picture_and_keeps_the_width() {
        let mut rewriter = PictureRewriter::default();
        rewriter.start_mapping(&descriptor(500, true, 40));
        sent(&mut rewriter, descriptor(500, true, 40));
        sent(&mut rewriter, descriptor(501, true, 41));
        // Another layer, numbered far away, with a short PictureID.
        let first = descriptor(9, false, 200);
        rewriter.start_mapping(&first);
        let mut payload = first.clone();
        rewriter.rewrite(&mut payload, Mapping::Current, true);
        assert_eq!(payload.len(), first.len(), "the field keeps its width");
        assert_eq!(numbers(&payload), (Some(502 & 0x7f), Some(42)));
        assert_eq!(
            sent(&mut rewriter, descriptor(10, false, 201)),
            (Some(503 & 0x7f), Some(43))
        );
        // A retransmission of the layer before goes out as it went the first time.
        let mut late = descriptor(501, true, 41);
        rewriter.rewrite(&mut late, Mapping::Previous, false);
        assert_eq!(numbers(&late), (Some(501), Some(41)));
    }

    #[test]
    fn long_and_short_picture_ids_wrap() {
        let mut rewriter = PictureRewriter::default();
        rewriter.start_mapping(&descriptor(0x7ffe, true, 255));
        sent(&mut rewriter, descriptor(0x7ffe, true, 255));
        // A switch right at the top of the 15-bit space wraps to 0.
        rewriter.start_mapping(&descriptor(100, true, 7));
        assert_eq!(
            sent(&mut rewriter, descriptor(100, true, 7)),
            (Some(0x7fff), Some(0))
        );
        assert_eq!(
            sent(&mut rewriter, descriptor(101, true, 8)),
            (Some(0), Some(1))
        );
        // Short ids wrap at 128, through the same offsets.
        rewriter.start_mapping(&descriptor(0x7f, false, 0));
        assert_eq!(
            sent(&mut rewriter, descriptor(0x7f, false, 0)),
            (Some(1), Some(2))
        );
        assert_eq!(
            sent(&mut rewriter, descriptor(0, false, 1)),
            (Some(2), Some(3))
        );
    }

    #[test]
    fn an_older_packet_does_not_move_the_continuation_point() {
        let mut rewriter = PictureRewriter::default();
        rewriter.start_mapping(&descriptor(10, true, 1));
        sent(&mut rewriter, descriptor(12, true, 3));
        let mut late = descriptor(11, true, 2);
        rewriter.rewrite(&mut late, Mapping::Current, false);
        rewriter.start_mapping(&descriptor(70, true, 70));
        assert_eq!(
            sent(&mut rewriter, descriptor(70, true, 70)),
            (Some(13), Some(4))
        );
    }
}
