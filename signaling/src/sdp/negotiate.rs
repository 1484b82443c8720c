//! Offer/answer: decide per m-line what we accept, for a publisher (one codec per kind) or a
//! viewer (the codecs that match what the stream's publisher sends).

use std::collections::HashMap;

use shardcast_control::{
    Codec, CodecName, DtlsRole, Extension, Fingerprint, MediaKind, MediaSection, Role,
};

use super::codecs::{
    fmtp_parameter, h264_profile, h264_rank, is_rid_extension, is_supported_extension,
    is_supported_feedback, rtx_target, supported_codec,
};
use super::offer::{Offer, OfferMedia, OfferPayload, Setup};
use super::simulcast::{Layers, accept_layers};

/// What a live publisher sends, per kind: viewers must accept the same codec.
pub type PublisherCodecs = HashMap<MediaKind, Codec>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The offer breaks a rule (HTTP 400).
    BadOffer(String),
    /// Nothing in the offer can be forwarded (HTTP 406).
    NoCommonCodec(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Negotiated {
    pub remote_ufrag: String,
    pub remote_pwd: String,
    pub remote_fingerprint: Fingerprint,
    pub dtls_role: DtlsRole,
    /// One entry per offered m-line, in offer order.
    pub lines: Vec<AnswerLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AnswerLine {
    Accepted(Accepted),
    Rejected(Rejected),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub section: MediaSection,
    pub proto: String,
    pub rtcp_rsize: bool,
    /// The simulcast rids we receive, in the offer's order (the section's `simulcast` holds
    /// them lowest quality first); empty without simulcast.
    pub answered_rids: Vec<String>,
}

/// An m-line answered with port 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub media: String,
    pub proto: String,
    pub formats: Vec<String>,
    pub mid: Option<String>,
}

impl Negotiated {
    /// The accepted sections, in answer order: what the engine is told about.
    pub fn media_sections(&self) -> Vec<MediaSection> {
        self.lines
            .iter()
            .filter_map(|line| match line {
                AnswerLine::Accepted(accepted) => Some(accepted.section.clone()),
                AnswerLine::Rejected(_) => None,
            })
            .collect()
    }

    /// The codec chosen per kind (a publisher's answer has exactly one each).
    pub fn chosen_codecs(&self) -> PublisherCodecs {
        self.media_sections()
            .into_iter()
            .filter_map(|section| Some((section.kind, section.codecs.into_iter().next()?)))
            .collect()
    }
}

pub fn negotiate(
    offer: &Offer,
    role: Role,
    publisher: Option<&PublisherCodecs>,
) -> Result<Negotiated, Refusal> {
    if !offer.media.iter().any(|m| media_kind(&m.media).is_some()) {
        return Err(Refusal::BadOffer(
            "the offer has no audio or video m-line".into(),
        ));
    }
    if offer.media.len() > 1 && offer.bundle.is_none() {
        return Err(Refusal::BadOffer(
            "the offer has several m-lines but no a=group:BUNDLE; bundling is required".into(),
        ));
    }
    let mut lines = Vec::with_capacity(offer.media.len());
    let mut unsupported = Vec::new();
    let mut transport = None;
    for media in &offer.media {
        let Some(kind) = usable_kind(offer, media)? else {
            lines.push(AnswerLine::Rejected(rejected(media)));
            continue;
        };
        let codecs = match role {
            Role::Publish => publisher_choice(media, kind),
            Role::Play => viewer_choice(media, kind, publisher.and_then(|p| p.get(&kind)))?,
        };
        if codecs.is_empty() {
            unsupported.extend(offered_names(media));
            lines.push(AnswerLine::Rejected(rejected(media)));
            continue;
        }
        if transport.is_none() {
            transport = Some(media);
        }
        let mid = media.mid.clone().unwrap_or_default();
        // Only a publisher's video is simulcast; a viewer gets one layer, chosen by the engine.
        let layers = match (role, kind) {
            (Role::Publish, MediaKind::Video) => accept_layers(&mid, &media.simulcast),
            _ => Layers::default(),
        };
        lines.push(AnswerLine::Accepted(Accepted {
            section: MediaSection {
                mid,
                kind,
                codecs,
                extensions: extensions(media, !layers.ranked.is_empty()),
                ssrcs: media.ssrcs.clone(),
                rtx_pairs: media.rtx_pairs.clone(),
                simulcast: layers.ranked,
            },
            proto: media.proto.clone(),
            rtcp_rsize: media.rtcp_rsize,
            answered_rids: layers.answered,
        }));
    }
    let Some(transport) = transport else {
        unsupported.dedup();
        return Err(Refusal::NoCommonCodec(format!(
            "no common codec: supported are VP8, VP9, H264 (packetization-mode=1), AV1, opus/48000/2; offer has {}",
            list_or_none(&unsupported)
        )));
    };
    let missing = |what: &str| Refusal::BadOffer(format!("the offer has no {what}"));
    let dtls_role = match transport.setup.ok_or_else(|| missing("a=setup"))? {
        Setup::ActPass | Setup::Active => DtlsRole::Server,
        Setup::Passive => DtlsRole::Client,
    };
    Ok(Negotiated {
        remote_ufrag: transport
            .ice_ufrag
            .clone()
            .ok_or_else(|| missing("a=ice-ufrag"))?,
        remote_pwd: transport
            .ice_pwd
            .clone()
            .ok_or_else(|| missing("a=ice-pwd"))?,
        remote_fingerprint: transport
            .fingerprint
            .clone()
            .ok_or_else(|| missing("a=fingerprint"))?,
        dtls_role,
        lines,
    })
}

fn media_kind(media: &str) -> Option<MediaKind> {
    match media {
        "audio" => Some(MediaKind::Audio),
        "video" => Some(MediaKind::Video),
        _ => None,
    }
}

/// The kind of an m-line we can take part in, or None to reject it with port 0.
fn usable_kind(offer: &Offer, media: &OfferMedia) -> Result<Option<MediaKind>, Refusal> {
    let Some(kind) = media_kind(&media.media) else {
        return Ok(None);
    };
    if media.port == 0 || !media.proto.contains("RTP/") {
        return Ok(None);
    }
    let Some(mid) = &media.mid else {
        return Err(Refusal::BadOffer(format!(
            "the m-line at line {} has no a=mid",
            media.line
        )));
    };
    let bundled = offer.bundle.as_ref().is_none_or(|mids| mids.contains(mid));
    Ok(bundled.then_some(kind))
}

fn rejected(media: &OfferMedia) -> Rejected {
    Rejected {
        media: media.media.clone(),
        proto: media.proto.clone(),
        formats: media.formats.clone(),
        mid: media.mid.clone(),
    }
}

/// Every supported codec of the m-line, in the offer's order of preference.
fn supported_codecs(media: &OfferMedia, kind: MediaKind, role: Role) -> Vec<Codec> {
    media
        .payloads
        .iter()
        .filter_map(|payload| Some(codec(media, payload, supported_codec(payload, kind)?, role)))
        .collect()
}

/// A publisher sends one codec per kind: the first it prefers that we support (for H264,
/// the most widely decodable profile it offers).
fn publisher_choice(media: &OfferMedia, kind: MediaKind) -> Vec<Codec> {
    let candidates = supported_codecs(media, kind, Role::Publish);
    let Some(first) = candidates.first() else {
        return Vec::new();
    };
    let chosen = if first.name == CodecName::H264 {
        // min_by_key keeps the first of equals, so the offer's order breaks ties.
        candidates
            .iter()
            .filter(|c| c.name == CodecName::H264)
            .min_by_key(|c| h264_rank(&c.fmtp))
            .unwrap_or(first)
    } else {
        first
    };
    vec![chosen.clone()]
}

/// A viewer gets what the publisher sends, so keep only its matching codecs. With no
/// publisher yet, keep everything supported: the engine maps whatever arrives later.
fn viewer_choice(
    media: &OfferMedia,
    kind: MediaKind,
    published: Option<&Codec>,
) -> Result<Vec<Codec>, Refusal> {
    let candidates = supported_codecs(media, kind, Role::Play);
    let Some(published) = published else {
        return Ok(candidates);
    };
    let matching: Vec<Codec> = candidates
        .iter()
        .filter(|c| same_codec(c, published))
        .cloned()
        .collect();
    if matching.is_empty() {
        return Err(Refusal::NoCommonCodec(format!(
            "no common codec: stream sends {}, offer has {}",
            describe(published),
            list_or_none(&offered_names(media))
        )));
    }
    Ok(matching)
}

fn same_codec(offered: &Codec, published: &Codec) -> bool {
    offered.name == published.name
        && (offered.name != CodecName::H264
            || (h264_profile(&offered.fmtp).is_some()
                && h264_profile(&offered.fmtp) == h264_profile(&published.fmtp)))
}

fn describe(codec: &Codec) -> String {
    match fmtp_parameter(&codec.fmtp, "profile-level-id") {
        Some(profile) if codec.name == CodecName::H264 => {
            format!("H264 (profile-level-id={profile})")
        }
        _ => codec.name.as_sdp().to_owned(),
    }
}

fn codec(media: &OfferMedia, payload: &OfferPayload, name: CodecName, role: Role) -> Codec {
    let mut feedback: Vec<String> = Vec::new();
    for value in payload
        .feedback
        .iter()
        .filter(|f| is_supported_feedback(f, role))
    {
        if !feedback.contains(value) {
            feedback.push(value.clone());
        }
    }
    Codec {
        payload_type: payload.payload_type,
        name,
        clock_rate: payload.clock_rate,
        channels: payload.channels.filter(|_| name == CodecName::Opus),
        fmtp: payload.fmtp.clone(),
        rtx_payload_type: media
            .payloads
            .iter()
            .find(|p| rtx_target(p) == Some(payload.payload_type))
            .map(|p| p.payload_type),
        feedback,
    }
}

/// The rid extensions only where simulcast was negotiated: they name the layers.
fn extensions(media: &OfferMedia, simulcast: bool) -> Vec<Extension> {
    let mut kept: Vec<Extension> = Vec::new();
    for extension in media
        .extensions
        .iter()
        .filter(|e| is_supported_extension(&e.uri) || (simulcast && is_rid_extension(&e.uri)))
    {
        if !kept.iter().any(|k| k.id == extension.id) {
            kept.push(extension.clone());
        }
    }
    kept
}

/// Distinct encoding names of an m-line's payloads, leaving out RTX and FEC helpers.
fn offered_names(media: &OfferMedia) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for payload in &media.payloads {
        let helper = [
            "rtx",
            "red",
            "ulpfec",
            "flexfec-03",
            "telephone-event",
            "cn",
        ]
        .iter()
        .any(|h| payload.name.eq_ignore_ascii_case(h));
        if !helper && !names.contains(&payload.name) {
            names.push(payload.name.clone());
        }
    }
    names
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
