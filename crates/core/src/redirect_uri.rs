//! Redirect URI registration rules (SPEC 3; SECURITY R1–R6) and matching (exact string
//! equality, except the port of a loopback URI, RFC 8252 §7.3).

use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

const LOOPBACK_HOSTS: &[&str] = &["127.0.0.1", "[::1]", "localhost"];

impl RedirectUri {
    /// Validates a URI for registration. `public_client` decides whether loopback `http`
    /// and private-use schemes are allowed (native apps are public clients).
    pub fn parse(raw: &str, public_client: bool) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.contains('*') {
            return Err("must not contain wildcards".into());
        }
        if raw.contains('#') {
            return Err("must not contain a fragment".into());
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace".into());
        }
        let url = Url::parse(raw).map_err(|_| "must be an absolute URI".to_string())?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain user information".into());
        }
        match url.scheme() {
            "https" => {
                if url.host().is_none() {
                    return Err("https URIs need a host".into());
                }
            }
            "http" => {
                if !is_loopback(&url) {
                    return Err("http is allowed only for loopback hosts (127.0.0.1, [::1], localhost); use https".into());
                }
                if !public_client {
                    return Err(
                        "http loopback URIs are allowed only for public (native) clients".into(),
                    );
                }
            }
            scheme if scheme.contains('.') => {
                if !public_client {
                    return Err(format!(
                        "private-use scheme `{scheme}:` is allowed only for public (native) clients"
                    ));
                }
            }
            scheme => {
                return Err(format!(
                    "scheme `{scheme}:` is not allowed; use https, loopback http, or a reverse-DNS private-use scheme"
                ));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    /// For values read back from the store, which were validated when written.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Does a redirect URI presented at the authorization endpoint match this registered
    /// one? Exact string comparison, except that a loopback `http` URI matches with any port.
    pub fn matches(&self, presented: &str) -> bool {
        if self.0 == presented {
            return true;
        }
        let (Ok(registered), Ok(candidate)) = (Url::parse(&self.0), Url::parse(presented)) else {
            return false;
        };
        registered.scheme() == "http"
            && is_loopback(&registered)
            && candidate.scheme() == "http"
            && registered.host() == candidate.host()
            && registered.path() == candidate.path()
            && registered.query() == candidate.query()
            && candidate.fragment().is_none()
            && candidate.username().is_empty()
            && candidate.password().is_none()
            && without_port(presented) == without_port(&self.0)
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.octets() == [127, 0, 0, 1],
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(domain)) => LOOPBACK_HOSTS.contains(&domain),
        None => false,
    }
}

/// The URI as written, with the authority's port removed; keeps the comparison textual.
fn without_port(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => &authority[..colon],
        _ => authority,
    };
    format!("{scheme}://{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_always_allowed() {
        assert!(RedirectUri::parse("https://app.example.com/callback", false).is_ok());
        assert!(RedirectUri::parse("https://app.example.com/cb?x=1", true).is_ok());
    }

    #[test]
    fn rejects_fragments_userinfo_wildcards_relative() {
        for bad in [
            "https://app.example.com/cb#frag",
            "https://user:pw@app.example.com/cb",
            "https://user@app.example.com/cb",
            "https://*.example.com/cb",
            "/relative/path",
            "app.example.com/cb",
            "https://app.example.com/c b",
            "",
        ] {
            assert!(RedirectUri::parse(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_only_for_loopback_on_public_clients() {
        for ok in [
            "http://127.0.0.1/callback",
            "http://[::1]:8080/cb",
            "http://localhost/cb",
        ] {
            assert!(RedirectUri::parse(ok, true).is_ok(), "{ok}");
            assert!(RedirectUri::parse(ok, false).is_err(), "{ok}");
        }
        assert!(RedirectUri::parse("http://app.example.com/cb", true).is_err());
        assert!(RedirectUri::parse("http://127.0.0.2/cb", true).is_err());
    }

    #[test]
    fn private_use_schemes_need_a_dot_and_a_public_client() {
        assert!(RedirectUri::parse("com.thetasecure.mobile:/oauth2/callback", true).is_ok());
        assert!(RedirectUri::parse("com.thetasecure.mobile:/oauth2/callback", false).is_err());
        assert!(RedirectUri::parse("myapp:/callback", true).is_err());
    }

    #[test]
    fn dangerous_schemes_rejected() {
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "vbscript:x",
            "ftp://example.com/x",
        ] {
            assert!(RedirectUri::parse(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_is_exact_except_loopback_port() {
        let https = RedirectUri::parse("https://app.example.com/cb", false).unwrap();
        assert!(https.matches("https://app.example.com/cb"));
        assert!(!https.matches("https://app.example.com/cb/"));
        assert!(!https.matches("https://APP.example.com/cb"));
        assert!(!https.matches("https://app.example.com:443/cb"));

        let loopback = RedirectUri::parse("http://127.0.0.1/callback", true).unwrap();
        assert!(loopback.matches("http://127.0.0.1:51234/callback"));
        assert!(loopback.matches("http://127.0.0.1/callback"));
        assert!(!loopback.matches("http://127.0.0.1:51234/other"));
        assert!(!loopback.matches("http://localhost:51234/callback"));
        assert!(!loopback.matches("http://127.0.0.1:51234/callback?x=1"));
        assert!(!loopback.matches("http://127.0.0.1:51234/callback#f"));

        let v6 = RedirectUri::parse("http://[::1]/cb", true).unwrap();
        assert!(v6.matches("http://[::1]:9000/cb"));
    }
}
