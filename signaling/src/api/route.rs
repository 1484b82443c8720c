//! Paths to resources: `/whip|whep/{stream}[/{session}]`, `/publish|watch/{stream}` and
//! `/metrics`.

use shardcast_control::Role;

use super::reply::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST` an offer here.
    Endpoint { role: Role, stream: String },
    /// The session a POST created (its Location): `PATCH`, `DELETE`.
    Session {
        role: Role,
        stream: String,
        session: String,
    },
    /// A built-in page.
    Page { page: Page, stream: String },
    /// Every shard's figures for Prometheus: `GET`.
    Metrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Publish,
    Watch,
}

impl Route {
    pub fn parse(path: &str) -> Result<Self, ApiError> {
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        let unknown = || ApiError::not_found(format!("no resource at {}", shorten(path)));
        match segments.as_slice() {
            ["metrics"] => Ok(Route::Metrics),
            [prefix, stream] => {
                let stream = valid_stream(stream)?;
                match *prefix {
                    "whip" => Ok(Route::Endpoint {
                        role: Role::Publish,
                        stream,
                    }),
                    "whep" => Ok(Route::Endpoint {
                        role: Role::Play,
                        stream,
                    }),
                    "publish" => Ok(Route::Page {
                        page: Page::Publish,
                        stream,
                    }),
                    "watch" => Ok(Route::Page {
                        page: Page::Watch,
                        stream,
                    }),
                    _ => Err(unknown()),
                }
            }
            [prefix @ ("whip" | "whep"), stream, session] => {
                let role = if *prefix == "whip" {
                    Role::Publish
                } else {
                    Role::Play
                };
                let stream = valid_stream(stream)?;
                if !is_session_id(session) {
                    return Err(ApiError::not_found("no such session"));
                }
                Ok(Route::Session {
                    role,
                    stream,
                    session: (*session).to_owned(),
                })
            }
            _ => Err(unknown()),
        }
    }

    /// The methods this resource takes, for `Allow` and CORS preflight answers.
    pub fn allowed_methods(&self) -> &'static str {
        match self {
            Route::Endpoint { .. } => "POST, OPTIONS",
            Route::Session { .. } => "PATCH, DELETE, OPTIONS",
            Route::Page { .. } | Route::Metrics => "GET, OPTIONS",
        }
    }
}

/// Where a session lives: `/whip/{stream}/{session}`.
pub fn session_location(role: Role, stream: &str, session: &str) -> String {
    let prefix = match role {
        Role::Publish => "whip",
        Role::Play => "whep",
    };
    format!("/{prefix}/{stream}/{session}")
}

fn valid_stream(stream: &str) -> Result<String, ApiError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if (1..=64).contains(&stream.len()) && stream.chars().all(allowed) {
        Ok(stream.to_owned())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid stream name {:?}: use 1-64 characters of A-Z a-z 0-9 _ - .",
            shorten(stream)
        )))
    }
}

/// Session ids are 128 bits in lowercase hex, as signaling makes them.
fn is_session_id(session: &str) -> bool {
    session.len() == 32
        && session
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn shorten(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_endpoints_sessions_and_pages() {
        assert_eq!(
            Route::parse("/whip/cam-1").unwrap(),
            Route::Endpoint {
                role: Role::Publish,
                stream: "cam-1".into()
            }
        );
        let session = "0123456789abcdef0123456789abcdef";
        assert!(matches!(
            Route::parse(&format!("/whep/a.b/{session}")).unwrap(),
            Route::Session {
                role: Role::Play,
                ..
            }
        ));
        assert!(matches!(
            Route::parse("/watch/x").unwrap(),
            Route::Page {
                page: Page::Watch,
                ..
            }
        ));
        assert_eq!(Route::parse("/metrics").unwrap(), Route::Metrics);
    }

    #[test]
    fn rejects_bad_names_and_unknown_paths() {
        assert_eq!(Route::parse("/whip/bad%20name").unwrap_err().status, 400);
        assert_eq!(
            Route::parse(&format!("/whip/{}", "a".repeat(65)))
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(Route::parse("/whip/").unwrap_err().status, 400);
        assert_eq!(Route::parse("/other/x").unwrap_err().status, 404);
        assert_eq!(Route::parse("/").unwrap_err().status, 404);
        assert_eq!(Route::parse("/metrics/x").unwrap_err().status, 404);
        assert_eq!(
            Route::parse("/whip/s/not-a-session").unwrap_err().status,
            404
        );
    }
}
