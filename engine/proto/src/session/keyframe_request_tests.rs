//! A publisher session's keyframe requests name the media SSRC of the simulcast layer asked
//! for, each layer throttled on its own.

use std::time::Duration;

use shardcast_control::{Extension, MediaKind, MediaSection, Role};

use crate::router::ShardMessage;
use crate::rtp::RtpHeader;
use crate::rtp::extension::RTP_STREAM_ID_URI;
use crate::shard::sim_net::{Net, vp8};
use crate::shard::sim_peer::sections;

const RID: u8 = 10;
const SSRCS: [u32; 3] = [0xa0, 0xb0, 0xc0];
const RIDS: [&str; 3] = ["q", "h", "f"];

fn simulcast_sections() -> Vec<MediaSection> {
    let mut media = sections(&[("0", MediaKind::Audio), ("1", MediaKind::Video)]);
    for section in &mut media {
        section.extensions.push(Extension {
            id: RID,
            uri: RTP_STREAM_ID_URI.into(),
        });
    }
    media[1].simulcast = RIDS.iter().map(|r| r.to_string()).collect();
    media
}

/// The publisher sends the first packet of `layer`, with its MID and rid.
fn send_layer(net: &mut Net, publisher: usize, layer: usize) {
    let header = RtpHeader {
        marker: true,
        payload_type: 96,
        sequence_number: 1,
        timestamp: 3000,
        ssrc: SSRCS[layer],
    };
    let extensions: [(u8, &[u8]); 2] = [(4, b"1"), (RID, RIDS[layer].as_bytes())];
    let peer = &mut net.peers[publisher];
    let datagram = peer.send_rtp_with_extensions(&header, &extensions, &vp8(true, 1));
    let address = peer.address;
    net.shards[0].handle_receive(net.now, address, None, &datagram);
    net.step();
}

fn request(net: &mut Net, layer: u8) {
    let stream = "layers".into();
    net.shards[0].handle_message(net.now, 0, ShardMessage::KeyframeRequest { stream, layer });
    net.step();
}

#[test]
fn a_keyframe_request_names_its_layers_ssrc_once_known() {
    let mut net = Net::new(1);
    let (publisher, _) = net.join_with(Role::Publish, "layers", "pub", simulcast_sections());
    net.run_until(Duration::from_secs(5), |net| {
        net.peers[publisher].is_connected()
    });
    send_layer(&mut net, publisher, 0);
    send_layer(&mut net, publisher, 1);

    request(&mut net, 1);
    assert_eq!(net.peers[publisher].pli_ssrcs, [SSRCS[1]]);
    // Layer 2 has not been heard from: its request waits for its SSRC.
    request(&mut net, 2);
    assert_eq!(net.peers[publisher].pli_ssrcs, [SSRCS[1]]);
    send_layer(&mut net, publisher, 2);
    assert_eq!(net.peers[publisher].pli_ssrcs, [SSRCS[1], SSRCS[2]]);
    // Within the interval layer 1 is folded, layer 0 is not; the folded one follows.
    request(&mut net, 1);
    request(&mut net, 0);
    assert_eq!(net.peers[publisher].pli_ssrcs[2..], [SSRCS[0]]);
    net.run_until(Duration::from_secs(2), |net| {
        net.peers[publisher].pli_ssrcs.len() == 4
    });
    assert_eq!(net.peers[publisher].pli_ssrcs[3..], [SSRCS[1]]);
}
