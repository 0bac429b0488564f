//! The closed vocabularies of client metadata: grant types, response types, client
//! authentication methods, client types and statuses.

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The accepted values, for error descriptions.
            pub fn expected() -> String {
                [$($text),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use string_enum;

string_enum!(
    /// Grant types a client may be registered for (SPEC 3). Implicit is not among them
    /// (RFC 9700 §2.1.2).
    GrantType {
        AuthorizationCode => "authorization_code",
        ClientCredentials => "client_credentials",
        RefreshToken => "refresh_token",
        Password => "password",
    }
);

string_enum!(
    ResponseType { Code => "code" }
);

string_enum!(
    AuthMethod {
        ClientSecretBasic => "client_secret_basic",
        ClientSecretPost => "client_secret_post",
        None => "none",
    }
);

string_enum!(
    ClientType {
        Custom => "custom",
        SyncConnector => "sync_connector",
    }
);

string_enum!(
    ClientStatus {
        Active => "active",
        Disabled => "disabled",
    }
);

impl AuthMethod {
    /// Public clients (`none`) hold no secret.
    pub fn is_confidential(self) -> bool {
        !matches!(self, AuthMethod::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_value() {
        for grant in GrantType::ALL {
            assert_eq!(GrantType::parse(grant.as_str()), Some(*grant));
        }
        assert_eq!(GrantType::parse("implicit"), None);
        assert_eq!(
            serde_json::to_string(&AuthMethod::ClientSecretPost).unwrap(),
            "\"client_secret_post\""
        );
        assert!(!AuthMethod::None.is_confidential());
    }
}
