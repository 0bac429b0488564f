//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2–3): which application
//! asks to sign the user out, and where the browser may go afterwards. Like the
//! authorization endpoint's unknown redirect URI, a `post_logout_redirect_uri` that is
//! not registered for the application is refused on a page, never followed: otherwise
//! `/logout` would be an open redirector.

use serde::{Deserialize, Deserializer};

use crate::authorize::OPAQUE_VALUE;
use crate::redirect_uri::RedirectUri;
use crate::text::shown;

/// The claims of an `id_token_hint` that logout reads. The caller has checked that one of
/// our keys signed it; an expired hint is still a hint (RP-Initiated Logout §2: the OP
/// should accept it even after expiry), so `exp` is not read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdTokenHint {
    pub iss: String,
    /// OIDC Core §2: a string or an array of strings.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// The client the token was issued to, when `aud` names several.
    #[serde(default)]
    pub azp: Option<String>,
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// Why a logout request is refused: shown to the user, never redirected. Names the
/// parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LogoutRefusal(pub String);

fn refused(why: impl Into<String>) -> LogoutRefusal {
    LogoutRefusal(why.into())
}

/// The `client_id` the request is for, from the parameter, the hint, or both (which must
/// then agree, RP-Initiated Logout §2). `None`: the request names no application, which
/// is allowed as long as it asks for no redirect.
pub fn requesting_client(
    client_id: Option<&str>,
    hint: Option<&IdTokenHint>,
    issuer: &str,
) -> Result<Option<String>, LogoutRefusal> {
    let Some(hint) = hint else {
        return Ok(client_id.map(str::to_owned));
    };
    if hint.iss != issuer {
        return Err(refused("the id_token_hint was not issued by this server"));
    }
    match client_id {
        Some(client_id) if hint.aud.iter().any(|aud| aud == client_id) => {
            Ok(Some(client_id.to_owned()))
        }
        Some(_) => Err(refused(
            "the client_id does not match the application the id_token_hint was issued to",
        )),
        None => match hint.aud.as_slice() {
            [only] => Ok(Some(only.clone())),
            [] => Err(refused("the id_token_hint names no application (aud)")),
            several => match &hint.azp {
                Some(azp) if several.contains(azp) => Ok(Some(azp.clone())),
                _ => Err(refused(
                    "the id_token_hint names several audiences and no azp among them; send client_id",
                )),
            },
        },
    }
}

/// Where the browser goes after signing out: `post_logout_redirect_uri` with `state` added
/// to its query, when the URI is one the application registered (exact string
/// comparison, RP-Initiated Logout §3). `registered` is `None` when the request names no
/// application. Without a URI there is no redirect, and `state` is not used.
pub fn redirect_after_logout(
    registered: Option<&[RedirectUri]>,
    post_logout_redirect_uri: Option<&str>,
    state: Option<&str>,
) -> Result<Option<String>, LogoutRefusal> {
    let Some(uri) = post_logout_redirect_uri else {
        return Ok(None);
    };
    let Some(registered) = registered else {
        return Err(refused(
            "a post_logout_redirect_uri needs a client_id or id_token_hint naming the application it belongs to",
        ));
    };
    if !registered.iter().any(|known| known.as_str() == uri) {
        return Err(refused(format!(
            "the post_logout_redirect_uri `{}` is not registered for this application",
            shown(uri)
        )));
    }
    let Some(state) = state else {
        return Ok(Some(uri.to_owned()));
    };
    if OPAQUE_VALUE.check("state", state).is_err() {
        return Err(refused(
            "the state must be one line of at most 512 characters",
        ));
    }
    Ok(Some(with_query_pair(uri, "state", state)))
}

/// `uri` with `name=value` added to its query, form-encoded, so the application reads
/// back `value` byte for byte; the rest of the URI is kept exactly as registered
/// (registered URIs carry no fragment).
fn with_query_pair(uri: &str, name: &str, value: &str) -> String {
    let separator = match uri.find('?') {
        None => "?",
        Some(at) if at + 1 == uri.len() || uri.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut pair = url::form_urlencoded::Serializer::new(String::new());
    pair.append_pair(name, value);
    format!("{uri}{separator}{}", pair.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://id.example";

    fn hint(aud: &[&str], azp: Option<&str>) -> IdTokenHint {
        IdTokenHint {
            iss: ISSUER.to_owned(),
            aud: aud.iter().map(|a| (*a).to_owned()).collect(),
            azp: azp.map(str::to_owned),
        }
    }

    fn uris(list: &[&str]) -> Vec<RedirectUri> {
        list.iter()
            .map(|u| RedirectUri::from_trusted((*u).to_owned()))
            .collect()
    }

    #[test]
    fn the_hint_reads_aud_as_a_string_or_an_array_and_ignores_expiry() {
        let one: IdTokenHint = serde_json::from_value(
            serde_json::json!({"iss": ISSUER, "aud": "ts_a", "exp": 1, "sub": "u"}),
        )
        .unwrap();
        assert_eq!(one, hint(&["ts_a"], None));
        let many: IdTokenHint = serde_json::from_value(
            serde_json::json!({"iss": ISSUER, "aud": ["ts_a", "ts_b"], "azp": "ts_b"}),
        )
        .unwrap();
        assert_eq!(many, hint(&["ts_a", "ts_b"], Some("ts_b")));
        assert!(
            serde_json::from_value::<IdTokenHint>(serde_json::json!({"iss": ISSUER, "aud": 5}))
                .is_err()
        );
    }

    #[test]
    fn the_client_comes_from_client_id_the_hint_or_both_when_they_agree() {
        assert_eq!(requesting_client(None, None, ISSUER), Ok(None));
        assert_eq!(
            requesting_client(Some("ts_a"), None, ISSUER),
            Ok(Some("ts_a".to_owned()))
        );
        let single = hint(&["ts_a"], None);
        assert_eq!(
            requesting_client(None, Some(&single), ISSUER),
            Ok(Some("ts_a".to_owned()))
        );
        assert_eq!(
            requesting_client(Some("ts_a"), Some(&single), ISSUER),
            Ok(Some("ts_a".to_owned()))
        );
        let disagree = requesting_client(Some("ts_b"), Some(&single), ISSUER).unwrap_err();
        assert!(disagree.0.contains("client_id"), "{disagree}");

        let several = hint(&["ts_a", "ts_b"], Some("ts_b"));
        assert_eq!(
            requesting_client(None, Some(&several), ISSUER),
            Ok(Some("ts_b".to_owned()))
        );
        assert_eq!(
            requesting_client(Some("ts_a"), Some(&several), ISSUER),
            Ok(Some("ts_a".to_owned()))
        );
        for unclear in [
            hint(&["ts_a", "ts_b"], None),
            hint(&["ts_a", "ts_b"], Some("ts_c")),
            hint(&[], None),
        ] {
            let refusal = requesting_client(None, Some(&unclear), ISSUER).unwrap_err();
            assert!(refusal.0.contains("id_token_hint"), "{refusal}");
        }
    }

    #[test]
    fn a_hint_from_another_issuer_is_refused() {
        let mut foreign = hint(&["ts_a"], None);
        foreign.iss = "https://other.example".to_owned();
        let refusal = requesting_client(Some("ts_a"), Some(&foreign), ISSUER).unwrap_err();
        assert_eq!(refusal.0, "the id_token_hint was not issued by this server");
        // Issuers are compared exactly: a trailing slash is another issuer.
        foreign.iss = format!("{ISSUER}/");
        assert!(requesting_client(None, Some(&foreign), ISSUER).is_err());
    }

    #[test]
    fn only_a_registered_uri_is_followed_exactly_with_state() {
        let registered = uris(&[
            "https://app.example/bye",
            "https://app.example/out?tenant=a",
            "http://127.0.0.1:9000/bye",
        ]);
        let after = |uri, state| redirect_after_logout(Some(&registered), uri, state);
        assert_eq!(after(None, Some("ignored")), Ok(None));
        assert_eq!(
            after(Some("https://app.example/bye"), None),
            Ok(Some("https://app.example/bye".to_owned()))
        );
        assert_eq!(
            after(Some("https://app.example/bye"), Some("a b&c=d/é")),
            Ok(Some(
                "https://app.example/bye?state=a+b%26c%3Dd%2F%C3%A9".to_owned()
            ))
        );
        assert_eq!(
            after(Some("https://app.example/out?tenant=a"), Some("xyz")),
            Ok(Some(
                "https://app.example/out?tenant=a&state=xyz".to_owned()
            ))
        );
        // Exact comparison: no loopback port rule, no case folding, no trailing slash.
        for near in [
            "http://127.0.0.1:9001/bye",
            "https://APP.example/bye",
            "https://app.example/bye/",
            "https://app.example/bye?x=1",
            "https://app.example/out",
            "https://evil.example/",
        ] {
            let refusal = after(Some(near), Some("s")).unwrap_err();
            assert!(
                refusal.0.starts_with("the post_logout_redirect_uri `"),
                "{near}: {refusal}"
            );
        }
        let refusal = after(Some("https://app.example/bye"), Some("a\nb")).unwrap_err();
        assert!(refusal.0.starts_with("the state"), "{refusal}");
        // Without an application to check against, nothing is followed.
        let refusal =
            redirect_after_logout(None, Some("https://app.example/bye"), None).unwrap_err();
        assert!(refusal.0.contains("client_id"), "{refusal}");
        assert_eq!(redirect_after_logout(None, None, Some("s")), Ok(None));
    }

    #[test]
    fn state_joins_any_query_the_uri_has() {
        assert_eq!(
            with_query_pair("https://a/b", "state", "1"),
            "https://a/b?state=1"
        );
        assert_eq!(
            with_query_pair("https://a/b?", "state", "1"),
            "https://a/b?state=1"
        );
        assert_eq!(
            with_query_pair("https://a/b?x=1&", "state", "1"),
            "https://a/b?x=1&state=1"
        );
        assert_eq!(
            with_query_pair("com.example.app:/bye", "state", "~"),
            "com.example.app:/bye?state=%7E"
        );
    }
}
