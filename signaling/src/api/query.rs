//! The query of a `POST` to an endpoint: `?layer=low|mid|high` picks a WHEP viewer's
//! simulcast layer. Other parameters are ignored, as they always were.

use shardcast_control::{LayerPreference, Role};

use super::reply::ApiError;

/// The viewer's layer preference; `layer` on a WHIP URL, twice, or with another value is a 400.
pub fn layer_preference(
    role: Role,
    query: Option<&str>,
) -> Result<Option<LayerPreference>, ApiError> {
    let mut values =
        query
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| match pair.split_once('=') {
                Some((key, value)) => (key == "layer").then_some(value),
                None => (pair == "layer").then_some(""),
            });
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request("layer is given more than once"));
    }
    if role == Role::Publish {
        return Err(ApiError::bad_request(format!(
            "layer={:?} is for WHEP viewers; a WHIP publisher takes no layer",
            shorten(value)
        )));
    }
    LayerPreference::from_query(value).map(Some).ok_or_else(|| {
        ApiError::bad_request(format!(
            "invalid layer {:?}: use low, mid or high",
            shorten(value)
        ))
    })
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_layer_and_ignores_other_parameters() {
        assert_eq!(layer_preference(Role::Play, None).unwrap(), None);
        assert_eq!(
            layer_preference(Role::Play, Some("token=x&other")).unwrap(),
            None
        );
        assert_eq!(
            layer_preference(Role::Play, Some("a=1&layer=mid")).unwrap(),
            Some(LayerPreference::Mid)
        );
        assert_eq!(layer_preference(Role::Publish, Some("x=1")).unwrap(), None);
    }

    #[test]
    fn refuses_bad_values_repeats_and_publishers() {
        let reason = |role, query| layer_preference(role, Some(query)).unwrap_err().reason;
        assert_eq!(
            reason(Role::Play, "layer=ultra"),
            "invalid layer \"ultra\": use low, mid or high"
        );
        assert_eq!(
            reason(Role::Play, "layer"),
            "invalid layer \"\": use low, mid or high"
        );
        assert_eq!(
            reason(Role::Play, "layer=low&layer=high"),
            "layer is given more than once"
        );
        assert_eq!(
            reason(Role::Publish, "layer=low"),
            "layer=\"low\" is for WHEP viewers; a WHIP publisher takes no layer"
        );
    }
}
