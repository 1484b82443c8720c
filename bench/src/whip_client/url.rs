//! The little of RFC 3986 a WHIP client needs: split an `http://` or `https://` URL into
//! where to connect and what to ask for, and resolve the `Location` a server answers with
//! against it.

/// Whether the connection is plain or TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn prefix(self) -> &'static str {
        match self {
            Self::Http => "http://",
            Self::Https => "https://",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// An `http://` or `https://` URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HttpUrl {
    pub scheme: Scheme,
    /// Host and port as written (brackets kept for IPv6): the `Host` header.
    pub authority: String,
    /// The host to resolve, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`: the request target.
    pub target: String,
}

/// Why a URL cannot be used; the caller adds the URL itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UrlProblem {
    NotHttp,
    NoHost,
    BadPort,
    BadCharacter,
}

impl UrlProblem {
    pub fn describe(self) -> &'static str {
        match self {
            Self::NotHttp => "only http:// and https:// URLs are supported",
            Self::NoHost => "no host",
            Self::BadPort => "the port is not a number from 1 to 65535",
            Self::BadCharacter => "whitespace or control characters in the URL",
        }
    }
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<Self, UrlProblem> {
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlProblem::BadCharacter);
        }
        let (scheme, rest) = [Scheme::Http, Scheme::Https]
            .into_iter()
            .find_map(|scheme| Some((scheme, strip_prefix_ignore_case(url, scheme.prefix())?)))
            .ok_or(UrlProblem::NotHttp)?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(end);
        // A fragment never goes to the server.
        let after = after.split('#').next().unwrap_or("");
        let target = match after.strip_prefix('?') {
            Some(_) => format!("/{after}"),
            None if after.is_empty() => "/".to_owned(),
            None => after.to_owned(),
        };
        if authority.contains('@') {
            // Credentials in the URL would go nowhere: bearer tokens have their own option.
            return Err(UrlProblem::BadCharacter);
        }
        let (host, port) = split_host_port(authority, scheme.default_port())?;
        if host.is_empty() {
            return Err(UrlProblem::NoHost);
        }
        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            host: host.to_owned(),
            port,
            target,
        })
    }

    /// The absolute URL of `location`, a `Location` header value, as RFC 3986 section 5.2
    /// resolves a reference against this URL.
    pub fn resolve(&self, location: &str) -> String {
        if has_scheme(location) {
            return location.to_owned();
        }
        if let Some(network_path) = location.strip_prefix("//") {
            return format!("{}{network_path}", self.scheme.prefix());
        }
        let location = location.split('#').next().unwrap_or("");
        let (base_path, _) = split_query(&self.target);
        let target = if location.is_empty() {
            self.target.clone()
        } else if location.starts_with('?') {
            format!("{base_path}{location}")
        } else if location.starts_with('/') {
            let (path, query) = split_query(location);
            format!("{}{query}", remove_dot_segments(path))
        } else {
            let directory = &base_path[..base_path.rfind('/').map_or(0, |slash| slash + 1)];
            let (path, query) = split_query(location);
            format!(
                "{}{query}",
                remove_dot_segments(&format!("{directory}{path}"))
            )
        };
        format!("{}{}{target}", self.scheme.prefix(), self.authority)
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// RFC 3986 3.1: a scheme is a letter, then letters, digits, `+`, `-` or `.`, then `:`.
fn has_scheme(reference: &str) -> bool {
    let Some((scheme, _)) = reference.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn split_host_port(authority: &str, default_port: u16) -> Result<(&str, u16), UrlProblem> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(UrlProblem::NoHost)?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(UrlProblem::BadPort),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(digits) => digits
            .parse::<u16>()
            .ok()
            .filter(|&port| port != 0)
            .ok_or(UrlProblem::BadPort)?,
    };
    Ok((host, port))
}

/// Splits `path?query` into the path and `?query` (empty when there is none).
fn split_query(target: &str) -> (&str, &str) {
    target.split_at(target.find('?').unwrap_or(target.len()))
}

/// RFC 3986 5.2.4 on an absolute path: `.` segments vanish, `..` removes its parent.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (index, segment) in segments.iter().enumerate() {
        let last = index + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    kept.pop();
                }
                // A trailing dot segment still names a directory.
                if last {
                    kept.push("");
                }
            }
            other => kept.push(other),
        }
    }
    format!("/{}", kept.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_targets() {
        let url = HttpUrl::parse("http://example.com:8080/whip/live?x=1#frag").unwrap();
        assert_eq!(url.authority, "example.com:8080");
        assert_eq!((url.host.as_str(), url.port), ("example.com", 8080));
        assert_eq!(url.target, "/whip/live?x=1");

        let url = HttpUrl::parse("HTTP://[::1]/").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("::1", 80));
        assert_eq!(url.authority, "[::1]");
        assert_eq!(HttpUrl::parse("http://h?q").unwrap().target, "/?q");
        assert_eq!(HttpUrl::parse("http://h").unwrap().target, "/");
    }

    #[test]
    fn https_defaults_to_port_443_and_takes_ipv6_literals() {
        let url = HttpUrl::parse("HTTPS://sfu.example/whep/live").unwrap();
        assert_eq!(url.scheme, Scheme::Https);
        assert_eq!((url.host.as_str(), url.port), ("sfu.example", 443));
        assert_eq!(
            (url.authority.as_str(), url.target.as_str()),
            ("sfu.example", "/whep/live")
        );

        let url = HttpUrl::parse("https://[2001:db8::7]:8443/whip?k=v").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("2001:db8::7", 8443));
        assert_eq!(url.authority, "[2001:db8::7]:8443");
        assert_eq!(url.target, "/whip?k=v");

        let url = HttpUrl::parse("https://[::1]").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.target.as_str()),
            ("::1", 443, "/")
        );
        assert_eq!(HttpUrl::parse("http://h").unwrap().scheme, Scheme::Http);
    }

    #[test]
    fn relative_locations_keep_the_https_scheme() {
        let base = HttpUrl::parse("https://sfu.example/whep/live").unwrap();
        let cases = [
            ("/sessions/1", "https://sfu.example/sessions/1"),
            ("sessions/1", "https://sfu.example/whep/sessions/1"),
            ("//edge.example/s/1", "https://edge.example/s/1"),
            ("http://plain.example/s/1", "http://plain.example/s/1"),
        ];
        for (location, expected) in cases {
            assert_eq!(base.resolve(location), expected, "{location}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let cases = [
            ("wss://h/whip", UrlProblem::NotHttp),
            ("https://:443/whip", UrlProblem::NoHost),
            ("https://h:0/", UrlProblem::BadPort),
            ("ftp://h/", UrlProblem::NotHttp),
            ("h:80/whip", UrlProblem::NotHttp),
            ("http:///whip", UrlProblem::NoHost),
            ("http://h:0/", UrlProblem::BadPort),
            ("http://h:99999/", UrlProblem::BadPort),
            ("http://h:x/", UrlProblem::BadPort),
            ("http://[::1]x/", UrlProblem::BadPort),
            ("http://h/a b", UrlProblem::BadCharacter),
            ("http://user:pw@h/", UrlProblem::BadCharacter),
        ];
        for (url, problem) in cases {
            assert_eq!(HttpUrl::parse(url), Err(problem), "{url}");
        }
    }

    #[test]
    fn resolves_locations_as_rfc_3986_does() {
        let base = HttpUrl::parse("http://h:1/whep/live/stream?token=t").unwrap();
        let cases = [
            ("/resource/abc", "http://h:1/resource/abc"),
            ("abc", "http://h:1/whep/live/abc"),
            ("./abc/", "http://h:1/whep/live/abc/"),
            ("../sessions/7?x=1", "http://h:1/whep/sessions/7?x=1"),
            ("../../../../x", "http://h:1/x"),
            ("?other", "http://h:1/whep/live/stream?other"),
            ("", "http://h:1/whep/live/stream?token=t"),
            ("..", "http://h:1/whep/"),
            ("//other:2/s", "http://other:2/s"),
            ("http://else/s/1", "http://else/s/1"),
            ("HTTPS://secure/s", "HTTPS://secure/s"),
        ];
        for (location, expected) in cases {
            assert_eq!(base.resolve(location), expected, "{location}");
        }
    }
}
