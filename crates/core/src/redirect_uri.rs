//! Redirect URI registration rules (SPEC 3; SECURITY R1–R6) and matching (exact string
//! equality, except the port of a loopback URI, RFC 8252 §7.3).
//!
//! A registered URI must mean the same to every parser, because the browser that follows
//! the redirect (a WHATWG URL parser, as the `url` crate is) and whatever else reads it
//! (RFC 3986 parsers in clients, proxies, audits) must agree on where it leads:
//! `https://a.example\@evil.example/cb` is `a.example` to a browser and `evil.example`
//! to a lenient RFC 3986 parser. So a URI is registered only if it is written in RFC 3986
//! characters and a browser would use it exactly as written (its WHATWG serialisation is
//! the identity): nothing a browser strips, decodes, folds, fills in or rewrites. Refusals
//! say what a browser reads instead, so the fix is to register that.

use url::{Host, Url};

use crate::text::TextRule;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

const LOOPBACK_HOSTS: &[&str] = &["127.0.0.1", "[::1]", "localhost"];

/// Longer than any callback needs; about what browsers and proxies reliably carry.
pub const REDIRECT_URI_TEXT: TextRule = TextRule::single_line(1, 2000);

impl RedirectUri {
    /// Validates a URI for registration. `public_client` decides whether loopback `http`
    /// and private-use schemes are allowed (native apps are public clients).
    pub fn parse(raw: &str, public_client: bool) -> Result<Self, String> {
        Self::parse_suggesting(raw, public_client, true)
    }

    /// `suggest`: whether a refusal may name the form a browser would read, once that
    /// form is checked to be registrable itself (without suggesting again).
    fn parse_suggesting(raw: &str, public_client: bool, suggest: bool) -> Result<Self, String> {
        REDIRECT_URI_TEXT
            .check("redirect_uri", raw)
            .map_err(|error| error.problem().to_string())?;
        if raw.contains('*') {
            return Err("must not contain wildcards".into());
        }
        if raw.contains('#') {
            return Err("must not contain a fragment".into());
        }
        let parsed = Url::parse(raw);
        // The form a browser would use instead, if registering it would be accepted.
        let instead = |url: &Url| {
            (suggest && Self::parse_suggesting(url.as_str(), public_client, false).is_ok())
                .then(|| url.as_str().to_owned())
        };
        check_rfc3986_characters(raw, || parsed.as_ref().ok().and_then(instead))?;
        if has_user_information(raw) {
            return Err("must not contain user information (`user@`); a host after `@` is easily mistaken for another".into());
        }
        let url = parsed
            .map_err(|error| format!("is not an absolute URI a browser can follow ({error})"))?;
        if url.as_str() != raw {
            let mut why = format!("is not written the way browsers read it (`{url}`)");
            if instead(&url).is_some() {
                why.push_str("; register that form instead");
            }
            return Err(why);
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
        check_authority(raw, &url)?;
        // On the text: `url.path()` hides the `/.` a browser keeps before a path that
        // starts with `//` in a URI without a host.
        let before_query = &raw[..raw.find('?').unwrap_or(raw.len())];
        if before_query.split('/').any(is_dot_segment) {
            return Err("must not contain a `.` or `..` path segment (a dot segment)".into());
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

/// Only RFC 3986 characters (unreserved, reserved, `%` with two hex digits), with a
/// reason a person can act on for the first other one. `instead`: what to write, when
/// the URI has a registrable form a browser would read (asked only for a refusal).
fn check_rfc3986_characters(
    raw: &str,
    instead: impl FnOnce() -> Option<String>,
) -> Result<(), String> {
    let mut chars = raw.chars().enumerate().peekable();
    while let Some((index, c)) = chars.next() {
        let position = index + 1;
        let allowed = c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=".contains(c);
        if allowed {
            continue;
        }
        let why = match c {
            '%' => {
                let hex = (0..2).all(|_| chars.next_if(|(_, c)| c.is_ascii_hexdigit()).is_some());
                if hex {
                    continue;
                }
                format!(
                    "has a `%` not followed by two hexadecimal digits at character {position}; write `%25` for a percent sign"
                )
            }
            '\\' => format!(
                "contains a backslash at character {position}, which RFC 3986 does not allow and browsers read as `/` in http(s) URIs, so parsers disagree on where it leads; write `%5C` for a backslash in the path or query"
            ),
            ' ' => format!(
                "contains a space at character {position}; write `%20` inside the URI, and nothing around it"
            ),
            c if !c.is_ascii() => {
                let mut why = format!(
                    "contains `{c}` (U+{:04X}) at character {position}, which is not ASCII; percent-encode it (UTF-8, `%XX`) in the path or query, and write an internationalised host in punycode (`xn--`)",
                    u32::from(c)
                );
                if let Some(instead) = instead() {
                    why.push_str(&format!(": write `{instead}`"));
                }
                why
            }
            c => format!(
                "contains {} at character {position}, which RFC 3986 does not allow unencoded; write `%{:02X}`",
                if c == '`' {
                    "a backtick".to_owned()
                } else {
                    format!("`{c}`")
                },
                u32::from(c)
            ),
        };
        return Err(why);
    }
    Ok(())
}

/// Where the authority is written (RFC 3986 §3.2: after `//`, up to `/`, `?` or `#`), if
/// the URI has one: only where `//` directly follows the scheme does it start one.
fn authority_range(raw: &str) -> Option<std::ops::Range<usize>> {
    let start = raw.find(':')? + 1;
    let start = start + raw[start..].strip_prefix("//").map(|_| 2)?;
    let end = raw[start..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |end| start + end);
    Some(start..end)
}

fn raw_authority(raw: &str) -> Option<&str> {
    authority_range(raw).map(|range| &raw[range])
}

/// Decided on the text, not on the parse: parsers differ on which `@` ends user
/// information (`https://a@b@c/`), and a browser drops an empty one (`https://@a/`).
fn has_user_information(raw: &str) -> bool {
    raw_authority(raw).is_some_and(|authority| authority.contains('@'))
}

/// The host as a browser and RFC 3986 both see it: present, brackets only around an IPv6
/// address, not percent-encoded (kept as written in private-use schemes, where RFC 3986
/// normalisation would decode it), no trailing dot (one DNS name, another origin).
fn check_authority(raw: &str, url: &Url) -> Result<(), String> {
    // Brackets belong around an IPv6 host; anywhere else, RFC 3986 wants them encoded.
    let host_brackets = match url.host() {
        Some(Host::Ipv6(_)) => authority_range(raw),
        _ => None,
    }
    .filter(|range| raw[range.clone()].matches(['[', ']']).count() == 2);
    let stray = raw.char_indices().enumerate().find(|(_, (byte, c))| {
        matches!(c, '[' | ']') && !host_brackets.as_ref().is_some_and(|r| r.contains(byte))
    });
    if let Some((index, (_, c))) = stray {
        return Err(format!(
            "contains `{c}` at character {} outside an IPv6 host; percent-encode it (`%{:02X}`)",
            index + 1,
            u32::from(c)
        ));
    }
    let host = url.host_str().filter(|host| !host.is_empty());
    match host {
        None if raw_authority(raw).is_some() => Err(
            "has an empty host; write the host, or no `//` at all (`com.example.app:/path`)".into(),
        ),
        Some(host) if host.contains('%') => Err(format!(
            "has a percent-encoded host `{host}`; write it decoded"
        )),
        Some(host) if host.ends_with('.') => Err(format!(
            "has a host that ends with a dot (`{host}`): the same DNS name as without it, but another origin to a browser; write it without the dot"
        )),
        _ => Ok(()),
    }
}

/// `.` or `..`, also percent-encoded (`%2e`), as a browser recognises them.
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
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

    /// URIs a browser (WHATWG URL) and a strict RFC 3986 parser read differently, or that
    /// only one of them accepts, or that a browser rewrites before use: (URI, what the
    /// refusal says). All for a public client, which may use loopback http and
    /// private-use schemes, so only the ambiguity refuses them.
    const AMBIGUOUS: &[(&str, &str)] = &[
        // Backslashes: a browser reads `\` as `/` in http(s) URIs, RFC 3986 forbids it.
        ("https://a.example\\@evil.example/cb", "backslash"),
        ("https:\\\\evil.example/cb", "backslash"),
        ("https:/\\evil.example/cb", "backslash"),
        ("https://a.example\\cb", "backslash"),
        ("https://a.example/c\\b", "backslash"),
        ("https://a.example/cb?x=\\", "backslash"),
        ("http://127.0.0.1\\@evil.example/cb", "backslash"),
        ("com.example.app:/\\evil", "backslash"),
        // Missing or extra slashes: a browser supplies an authority, RFC 3986 has a path.
        (
            "https:/evil.example/cb",
            "browsers read it (`https://evil.example/cb`",
        ),
        (
            "https:evil.example/cb",
            "browsers read it (`https://evil.example/cb`",
        ),
        (
            "https:///evil.example/cb",
            "browsers read it (`https://evil.example/cb`",
        ),
        (
            "https:////evil.example/cb",
            "browsers read it (`https://evil.example/cb`",
        ),
        ("//evil.example/cb", "absolute URI"),
        ("/cb", "absolute URI"),
        ("evil.example/cb", "absolute URI"),
        ("https://", "absolute URI"),
        ("https://?x", "absolute URI"),
        // Letter case a browser folds.
        (
            "HTTPS://a.example/cb",
            "browsers read it (`https://a.example/cb`",
        ),
        (
            "Com.Example.App:/cb",
            "browsers read it (`com.example.app:/cb`",
        ),
        (
            "https://A.EXAMPLE/cb",
            "browsers read it (`https://a.example/cb`",
        ),
        (
            "https://XN--BCHER-KVA.example/cb",
            "browsers read it (`https://xn--bcher-kva.example/cb`",
        ),
        // Whitespace and controls, which a browser strips or keeps depending on where.
        (
            "https://a.example/c\tb",
            "control character (U+0009) at character 20",
        ),
        ("https://a.ex\nample/cb", "line break (U+000A)"),
        ("https://a.example/cb\r", "line break (U+000D)"),
        ("https://a.example/cb\u{0}", "control character (U+0000)"),
        ("https://a.example/\u{85}", "control character (U+0085)"),
        (" https://a.example/cb", "space at character 1"),
        ("https://a.example/cb ", "space at character 21"),
        ("https://a.example/c b", "space"),
        ("https://a.example/cb\u{a0}", "which is not ASCII"),
        // Percent-encoding: invalid, or decoded by a browser in the host or a dot segment.
        (
            "https://a.example/%zz",
            "`%` not followed by two hexadecimal digits",
        ),
        (
            "https://a.example/cb%2",
            "`%` not followed by two hexadecimal digits",
        ),
        (
            "https://a.example/x/%2e%2e/cb",
            "browsers read it (`https://a.example/cb`",
        ),
        (
            "https://a.example/x/.%2E/cb",
            "browsers read it (`https://a.example/cb`",
        ),
        (
            "https://a.example/x/%2E/cb",
            "browsers read it (`https://a.example/x/cb`",
        ),
        (
            "https://a.example/x/../cb",
            "browsers read it (`https://a.example/cb`",
        ),
        (
            "https://a.example/./cb",
            "browsers read it (`https://a.example/cb`",
        ),
        (
            "com.example.app:/x/../cb",
            "browsers read it (`com.example.app:/cb`",
        ),
        ("com.example.app:/.//cb", "dot segment"),
        (
            "https://a%2eexample/cb",
            "browsers read it (`https://a.example/cb`",
        ),
        (
            "https://%61.example/cb",
            "browsers read it (`https://a.example/cb`",
        ),
        ("com.example.app://h%41st/cb", "percent-encoded"),
        // Ports a browser drops or rewrites.
        (
            "https://a.example:443/cb",
            "browsers read it (`https://a.example/cb`",
        ),
        (
            "http://127.0.0.1:80/cb",
            "browsers read it (`http://127.0.0.1/cb`",
        ),
        (
            "https://a.example:0443/cb",
            "browsers read it (`https://a.example/cb`",
        ),
        (
            "https://a.example:08443/cb",
            "browsers read it (`https://a.example:8443/cb`",
        ),
        (
            "https://a.example:/cb",
            "browsers read it (`https://a.example/cb`",
        ),
        ("https://a.example:0x50/cb", "absolute URI"),
        ("https://a.example:65536/cb", "absolute URI"),
        // IPv4 and IPv6 spellings a browser rewrites; RFC 3986 takes most as host names.
        ("http://127.1/cb", "browsers read it (`http://127.0.0.1/cb`"),
        (
            "http://0x7f.0.0.1/cb",
            "browsers read it (`http://127.0.0.1/cb`",
        ),
        (
            "http://2130706433/cb",
            "browsers read it (`http://127.0.0.1/cb`",
        ),
        (
            "http://0177.0.0.1/cb",
            "browsers read it (`http://127.0.0.1/cb`",
        ),
        (
            "http://127.0.0.1./cb",
            "browsers read it (`http://127.0.0.1/cb`",
        ),
        ("https://1.2.3/cb", "browsers read it (`https://1.2.0.3/cb`"),
        ("https://1.2.3.4.5/cb", "absolute URI"),
        (
            "http://[0:0:0:0:0:0:0:1]/cb",
            "browsers read it (`http://[::1]/cb`",
        ),
        (
            "http://[::ffff:127.0.0.1]/cb",
            "browsers read it (`http://[::ffff:7f00:1]/cb`",
        ),
        // Hosts: internationalised, a trailing dot, none at all.
        (
            "https://bücher.example/cb",
            "write `https://xn--bcher-kva.example/cb`",
        ),
        ("https://ａ.example/cb", "which is not ASCII"),
        ("https://a.example./cb", "ends with a dot"),
        (
            "https://a.example",
            "browsers read it (`https://a.example/`",
        ),
        ("com.example.app:///cb", "empty host"),
        // User information, which can make the host look like another.
        ("https://user@a.example/cb", "user information"),
        ("https://user:pw@a.example/cb", "user information"),
        ("https://@a.example/cb", "user information"),
        ("https://a.example@evil.example/cb", "user information"),
        ("https://a.example:443@evil.example/cb", "user information"),
        ("https://a@b@evil.example/cb", "user information"),
        ("https://a.example;@evil.example/cb", "user information"),
        ("com.example.app://user@host/cb", "user information"),
        // Characters RFC 3986 does not allow unencoded; brackets outside an IPv6 host.
        ("https://a.example/[cb]", "`[`"),
        ("https://a.example/cb?x=]", "`]`"),
        ("https://a.example/c|b", "`|`"),
        ("https://a.example/c^b", "`^`"),
        ("https://a.example/c{b}", "`{`"),
        ("https://a.example/c\"b", "`\"`"),
        ("https://a.example/<cb>", "`<`"),
        ("https://a.example/c`b", "a backtick"),
        (
            "https://a.example/cb?x='y'",
            "browsers read it (`https://a.example/cb?x=%27y%27`",
        ),
        // What SPEC 3 refuses anyway.
        ("https://a.example/cb#", "fragment"),
        ("https://a.example/cb#x", "fragment"),
        ("https://*.example/cb", "wildcard"),
        ("", "must not be empty"),
        ("javascript:alert(1)", "scheme `javascript:` is not allowed"),
        ("data:text/html,hi", "scheme `data:` is not allowed"),
        ("file:///etc/passwd", "scheme `file:` is not allowed"),
        ("myapp:/cb", "scheme `myapp:` is not allowed"),
        ("vbscript:x", "scheme `vbscript:` is not allowed"),
        ("ftp://a.example/x", "scheme `ftp:` is not allowed"),
        ("http://a.example/cb", "http is allowed only for loopback"),
        ("http://127.0.0.2/cb", "http is allowed only for loopback"),
        ("http://localhost./cb", "http is allowed only for loopback"),
    ];

    /// URIs every parser reads alike, stored as written.
    const UNAMBIGUOUS: &[&str] = &[
        "https://a.example/cb",
        "https://a.example/",
        "https://a.example/cb/",
        "https://a.example/cb?",
        "https://a.example/cb?x=1&y=2",
        "https://a.example/cb?next=https://b.example/x?y",
        "https://a.example/cb?x=%2e%2e&y=..",
        "https://a.example:8443/cb",
        "https://a.example/a%2Fb%5Cc%20d%25",
        "https://a.example/@cb",
        "https://a.example/..a/.b/cb",
        "https://a.example/~u/c-b_c.d;p=1,2!$&'()+=:@",
        "https://sub.a-b.example/cb",
        "https://xn--bcher-kva.example/cb",
        "https://192.0.2.1/cb",
        "https://[2001:db8::1]/cb",
        "https://[2001:db8::1]:8443/cb?x=1",
        "https://localhost/cb",
        "http://127.0.0.1/callback",
        "http://127.0.0.1:8080/cb",
        "http://[::1]/cb",
        "http://[::1]:51234/cb",
        "http://localhost:3000/cb",
        "com.example.app:/oauth2/callback",
        "com.example.app:/cb?x=1",
        "com.example.app://callback",
        "com.example.app:callback",
        "com.thetasecure.mobile:/oauth2/callback",
    ];

    #[test]
    fn refuses_uris_that_browsers_and_rfc_3986_read_differently() {
        assert!(AMBIGUOUS.len() >= 40);
        for (raw, says) in AMBIGUOUS {
            match RedirectUri::parse(raw, true) {
                Ok(_) => panic!("{raw:?} was accepted"),
                Err(why) => {
                    assert!(why.contains(says), "{raw:?}: `{why}` does not say {says}");
                    assert!(!why.contains(char::is_control), "{raw:?}: {why:?}");
                }
            }
        }
        let long = format!("https://a.example/{}", "x".repeat(2000));
        let why = RedirectUri::parse(&long, true).unwrap_err();
        assert!(why.contains("at most 2000 characters"), "{why}");
    }

    #[test]
    fn accepts_uris_every_parser_reads_alike_as_written() {
        assert!(UNAMBIGUOUS.len() >= 15);
        for raw in UNAMBIGUOUS {
            match RedirectUri::parse(raw, true) {
                Ok(uri) => assert_eq!(uri.as_str(), *raw),
                Err(why) => panic!("{raw:?} was refused: {why}"),
            }
        }
    }

    #[test]
    fn https_always_allowed() {
        assert!(RedirectUri::parse("https://app.example.com/callback", false).is_ok());
        assert!(RedirectUri::parse("https://app.example.com/cb?x=1", true).is_ok());
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
