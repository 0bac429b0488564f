//! What every listing shares: the page size rule, and cursors that name the last item
//! of a page by its creation time and id, opaque to callers.

use data_encoding::BASE64URL_NOPAD;
use thetasecure_core::{OAuthError, Timestamp};

use crate::AdminError;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

fn invalid(description: impl Into<String>) -> AdminError {
    AdminError::Invalid(OAuthError::invalid_request(description))
}

/// The page size a caller asked for, or the default.
pub(crate) fn page_size(limit: Option<u32>) -> Result<u32, AdminError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if (1..=MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(invalid(format!("limit must be from 1 to {MAX_PAGE_SIZE}")))
    }
}

pub(crate) fn encode_cursor(created_at: Timestamp, id: &str) -> String {
    BASE64URL_NOPAD.encode(format!("{}:{id}", created_at.0).as_bytes())
}

/// A cursor this server issued, read back with `id` checking the id part; empty is none.
pub(crate) fn decode_cursor<T>(
    raw: Option<&str>,
    id: impl Fn(&str) -> Option<T>,
) -> Result<Option<(Timestamp, T)>, AdminError> {
    let Some(raw) = raw.filter(|raw| !raw.is_empty()) else {
        return Ok(None);
    };
    let decoded = || {
        let text = String::from_utf8(BASE64URL_NOPAD.decode(raw.as_bytes()).ok()?).ok()?;
        let (created_at, rest) = text.split_once(':')?;
        Some((Timestamp(created_at.parse().ok()?), id(rest)?))
    };
    decoded()
        .map(Some)
        .ok_or_else(|| invalid("cursor is not one this server issued"))
}

/// Ids this server writes as canonical UUIDs (users, audit events): anything else names
/// nothing, and is refused or not found without asking the store.
pub(crate) fn is_canonical_uuid(raw: &str) -> bool {
    uuid::Uuid::try_parse(raw).is_ok_and(|id| id.hyphenated().to_string() == raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = encode_cursor(Timestamp(42), "ts_abc");
        let read = decode_cursor(Some(&cursor), |id| Some(id.to_owned())).unwrap();
        assert_eq!(read, Some((Timestamp(42), "ts_abc".to_owned())));
        assert_eq!(decode_cursor(None, |id| Some(id.to_owned())).unwrap(), None);
        assert_eq!(
            decode_cursor(Some(""), |id| Some(id.to_owned())).unwrap(),
            None
        );
        for garbage in ["!!", &BASE64URL_NOPAD.encode(b"x:y"), &cursor[1..]] {
            assert!(decode_cursor(Some(garbage), |id| Some(id.to_owned())).is_err());
        }
        assert!(decode_cursor(Some(&cursor), |_| None::<String>).is_err());
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(Some(200)).unwrap(), 200);
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(201)).is_err());
    }

    #[test]
    fn only_canonical_uuids_are_ids() {
        let id = uuid::Uuid::now_v7();
        assert!(is_canonical_uuid(&id.hyphenated().to_string()));
        for not_issued in [
            id.simple().to_string(),
            id.hyphenated().to_string().to_uppercase(),
            id.braced().to_string(),
            id.urn().to_string(),
            "not-an-event".to_owned(),
            format!("{id}\u{0}"),
            String::new(),
        ] {
            assert!(!is_canonical_uuid(&not_issued), "{not_issued}");
        }
    }
}
