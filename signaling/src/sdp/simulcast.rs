//! Which simulcast layers a publisher's video m-line gets (RFC 8853): at most three, ranked
//! lowest quality first for the engine and answered in the offer's order.

use super::rid::{RidRestrictions, SimulcastRid, SimulcastStream};

/// The engine forwards at most three layers (low, mid, high).
pub const MAX_LAYERS: usize = 3;

/// Rid names that say their quality, each family lowest first.
const NAME_FAMILIES: [[&str; 3]; 4] = [
    ["q", "h", "f"],
    ["l", "m", "h"],
    ["low", "mid", "high"],
    ["quarter", "half", "full"],
];

/// The accepted layers of one m-line; both empty without simulcast.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layers {
    /// In the offer's order: what the answer's `a=rid` and `a=simulcast:recv` lines list.
    pub answered: Vec<String>,
    /// Lowest quality first: what the engine is told.
    pub ranked: Vec<String>,
}

/// Takes the first alternative of each offered stream, leaves out paused ones and keeps the
/// first [`MAX_LAYERS`]. A single layer is no simulcast.
pub fn accept_layers(mid: &str, streams: &[SimulcastStream]) -> Layers {
    let mut offered: Vec<&SimulcastRid> = streams
        .iter()
        .filter_map(|stream| stream.alternatives.first())
        .filter(|rid| !rid.paused)
        .collect();
    if offered.len() > MAX_LAYERS {
        let dropped: Vec<&str> = offered[MAX_LAYERS..]
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        tracing::info!(
            %mid,
            ?dropped,
            "the offer has more than {MAX_LAYERS} simulcast layers; keeping the first {MAX_LAYERS}"
        );
        offered.truncate(MAX_LAYERS);
    }
    if offered.len() < 2 {
        return Layers::default();
    }
    Layers {
        answered: offered.iter().map(|r| r.id.clone()).collect(),
        ranked: rank(&offered),
    }
}

/// Lowest quality first: by restrictions that every layer has, else by well-known names,
/// else in offer order (Chromium lists `sendEncodings` lowest first by convention).
fn rank(layers: &[&SimulcastRid]) -> Vec<String> {
    let mut order: Vec<usize> = (0..layers.len()).collect();
    if let Some(keys) = restriction_keys(layers).or_else(|| name_keys(layers)) {
        // A stable sort: equal keys keep the offer's order.
        order.sort_by_key(|&index| keys[index]);
    }
    order
        .iter()
        .map(|&index| layers[index].id.clone())
        .collect()
}

/// Picture area (max-width x max-height), else max-fs, else max-br: the first that every
/// layer states.
fn restriction_keys(layers: &[&SimulcastRid]) -> Option<Vec<u64>> {
    let every = |key: fn(&RidRestrictions) -> Option<u64>| {
        layers
            .iter()
            .map(|layer| key(&layer.restrictions))
            .collect::<Option<Vec<u64>>>()
    };
    every(|r| Some(r.max_width?.saturating_mul(r.max_height?)))
        .or_else(|| every(|r| r.max_fs))
        .or_else(|| every(|r| r.max_br))
}

/// The rank within the first name family that holds every layer's rid.
fn name_keys(layers: &[&SimulcastRid]) -> Option<Vec<u64>> {
    NAME_FAMILIES.iter().find_map(|family| {
        layers
            .iter()
            .map(|layer| {
                let position = family
                    .iter()
                    .position(|name| name.eq_ignore_ascii_case(&layer.id))?;
                u64::try_from(position).ok()
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid(id: &str, restrictions: RidRestrictions) -> SimulcastStream {
        SimulcastStream {
            alternatives: vec![SimulcastRid {
                id: id.into(),
                paused: id.starts_with('p'),
                restrictions,
            }],
        }
    }

    fn named(ids: &[&str]) -> Vec<SimulcastStream> {
        ids.iter()
            .map(|id| rid(id, RidRestrictions::default()))
            .collect()
    }

    fn ranked(streams: &[SimulcastStream]) -> Vec<String> {
        accept_layers("0", streams).ranked
    }

    #[test]
    fn restrictions_rank_before_names() {
        let size = |width, height| RidRestrictions {
            max_width: Some(width),
            max_height: Some(height),
            max_br: Some(100),
            ..RidRestrictions::default()
        };
        // The names alone would rank q < h < f; the sizes say otherwise and win.
        let streams = vec![
            rid("h", size(1280, 720)),
            rid("f", size(320, 180)),
            rid("q", size(640, 360)),
        ];
        assert_eq!(ranked(&streams), ["f", "q", "h"]);
        let layers = accept_layers("0", &streams);
        assert_eq!(layers.answered, ["h", "f", "q"]);
        let by_fs = |fs| RidRestrictions {
            max_fs: Some(fs),
            max_width: Some(1),
            ..RidRestrictions::default()
        };
        assert_eq!(
            ranked(&[rid("b", by_fs(3600)), rid("a", by_fs(900))]),
            ["a", "b"]
        );
        let by_br = |br| RidRestrictions {
            max_br: Some(br),
            ..RidRestrictions::default()
        };
        assert_eq!(
            ranked(&[rid("x", by_br(2_000_000)), rid("y", by_br(150_000))]),
            ["y", "x"]
        );
    }

    #[test]
    fn well_known_names_rank_without_restrictions() {
        assert_eq!(ranked(&named(&["f", "h", "q"])), ["q", "h", "f"]);
        assert_eq!(ranked(&named(&["h", "l", "m"])), ["l", "m", "h"]);
        assert_eq!(
            ranked(&named(&["HIGH", "low", "mid"])),
            ["low", "mid", "HIGH"]
        );
        assert_eq!(ranked(&named(&["full", "quarter"])), ["quarter", "full"]);
        // No family holds all three: the offer's order stands.
        assert_eq!(ranked(&named(&["f", "l", "h"])), ["f", "l", "h"]);
        assert_eq!(ranked(&named(&["0", "2", "1"])), ["0", "2", "1"]);
    }

    #[test]
    fn paused_alternatives_and_extra_layers_are_left_out() {
        assert_eq!(ranked(&named(&["l", "p1", "h"])), ["l", "h"]);
        let streams = named(&["a", "b", "c", "d"]);
        let layers = accept_layers("1", &streams);
        assert_eq!(layers.answered, ["a", "b", "c"]);
        let second_alternative = SimulcastStream {
            alternatives: vec![
                SimulcastRid {
                    id: "x".into(),
                    paused: false,
                    restrictions: RidRestrictions::default(),
                },
                SimulcastRid {
                    id: "y".into(),
                    paused: false,
                    restrictions: RidRestrictions::default(),
                },
            ],
        };
        let layers = accept_layers("1", &[named(&["w"]).remove(0), second_alternative]);
        assert_eq!(layers.answered, ["w", "x"]);
    }

    #[test]
    fn one_layer_is_no_simulcast() {
        assert_eq!(accept_layers("0", &named(&["q"])), Layers::default());
        assert_eq!(accept_layers("0", &named(&["q", "p"])), Layers::default());
        assert_eq!(accept_layers("0", &[]), Layers::default());
    }
}
