//! Scopes: names (SPEC 6), the space-delimited sets clients request (RFC 6749 §3.3) and
//! the built-in registry entries.

use std::fmt;

use crate::text::{TextRule, shown};

/// A scope's description, shown on the consent page: at most 500 characters.
pub const SCOPE_DESCRIPTION: TextRule = TextRule::multi_line(0, 500);

/// A built-in scope: always present, never deletable.
pub struct BuiltinScope {
    pub name: &'static str,
    pub description: &'static str,
}

pub const BUILTIN_SCOPES: &[BuiltinScope] = &[
    BuiltinScope {
        name: "openid",
        description: "Sign you in with your ThetaSecure identity.",
    },
    BuiltinScope {
        name: "profile",
        description: "Read your name and profile information.",
    },
    BuiltinScope {
        name: "email",
        description: "Read your email address.",
    },
    BuiltinScope {
        name: "offline_access",
        description: "Keep access while you are not signed in.",
    },
    BuiltinScope {
        name: "admin",
        description: "Administer ThetaSecure through the admin API.",
    },
    BuiltinScope {
        name: "introspect",
        description: "Introspect any token issued by ThetaSecure.",
    },
    BuiltinScope {
        name: "directory.read",
        description: "Read users and groups through SCIM.",
    },
    BuiltinScope {
        name: "directory.write",
        description: "Create and change users and groups through SCIM.",
    },
];

pub fn is_builtin(name: &str) -> bool {
    BUILTIN_SCOPES.iter().any(|scope| scope.name == name)
}

/// `^[A-Za-z0-9_.:/-]{1,128}$` (SPEC 6).
pub fn is_valid_scope_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'-'))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeParseError {
    Empty,
    InvalidName(String),
}

impl fmt::Display for ScopeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("must name at least one scope"),
            Self::InvalidName(name) => write!(f, "`{}` is not a valid scope name", shown(name)),
        }
    }
}

/// A non-empty set of scope names, kept in first-seen order without duplicates.
/// Scopes are case-sensitive and their order carries no meaning (RFC 6749 §3.3).
#[derive(Debug, Clone)]
pub struct ScopeSet(Vec<String>);

/// Equality ignores order: `a b` and `b a` grant the same.
impl PartialEq for ScopeSet {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.is_subset_of(other)
    }
}

impl Eq for ScopeSet {}

impl ScopeSet {
    /// Parses a space-delimited scope string. Only single spaces separate scopes in the
    /// RFC grammar, but runs of spaces are harmless and tolerated.
    pub fn parse(raw: &str) -> Result<Self, ScopeParseError> {
        let mut names: Vec<String> = Vec::new();
        for name in raw.split(' ').filter(|part| !part.is_empty()) {
            if !is_valid_scope_name(name) {
                return Err(ScopeParseError::InvalidName(name.to_owned()));
            }
            if !names.iter().any(|seen| seen == name) {
                names.push(name.to_owned());
            }
        }
        if names.is_empty() {
            return Err(ScopeParseError::Empty);
        }
        Ok(Self(names))
    }

    /// For values validated before they were stored, and for literals a test checks.
    pub fn from_trusted(raw: &str) -> Self {
        Self(
            raw.split(' ')
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|own| own == name)
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|name| other.contains(name))
    }

    /// The first of `self` that `other` lacks.
    pub fn first_missing_from<'a>(&'a self, other: &ScopeSet) -> Option<&'a str> {
        self.0
            .iter()
            .find(|name| !other.contains(name))
            .map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Every scope of `self`, then those of `other` it lacks.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        let mut names = self.0.clone();
        names.extend(
            other
                .iter()
                .filter(|name| !self.contains(name))
                .map(str::to_owned),
        );
        Self(names)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dedupes_and_keeps_order() {
        let set = ScopeSet::parse("b a  b c").unwrap();
        assert_eq!(set.to_string(), "b a c");
        assert!(set.contains("a"));
        assert!(!set.contains("A"));
    }

    #[test]
    fn rejects_empty_and_invalid() {
        assert_eq!(ScopeSet::parse("  "), Err(ScopeParseError::Empty));
        assert_eq!(
            ScopeSet::parse("ok bad\"q"),
            Err(ScopeParseError::InvalidName("bad\"q".into()))
        );
        assert!(!is_valid_scope_name(&"a".repeat(129)));
        assert!(is_valid_scope_name("api:read/all-1.x_y"));
    }

    #[test]
    fn subset_checks() {
        let client = ScopeSet::parse("a b c").unwrap();
        let asked = ScopeSet::parse("c a").unwrap();
        assert!(asked.is_subset_of(&client));
        assert_eq!(
            ScopeSet::parse("a b c").unwrap(),
            ScopeSet::parse("c b a").unwrap()
        );
        assert_ne!(
            ScopeSet::parse("a b").unwrap(),
            ScopeSet::parse("a b c").unwrap()
        );
        let beyond = ScopeSet::parse("a z").unwrap();
        assert_eq!(beyond.first_missing_from(&client), Some("z"));
        assert_eq!(client.union(&beyond).to_string(), "a b c z");
        assert_eq!(beyond.union(&beyond).to_string(), "a z");
    }

    #[test]
    fn builtins_are_valid_names() {
        assert!(BUILTIN_SCOPES.iter().all(|s| is_valid_scope_name(s.name)));
        assert!(is_builtin("admin"));
        assert!(!is_builtin("custom"));
    }
}
