//! ThetaSecure's domain and protocol rules. Pure functions and types: no I/O, no async,
//! so every rule here is unit-tested without a server or a database.

pub mod authorize;
pub mod client;
pub mod clock;
pub mod discovery;
pub mod error;
pub mod grant;
pub mod ids;
pub mod logout;
pub mod oidc;
pub mod opaque;
pub mod pkce;
pub mod random;
pub mod redirect_uri;
pub mod refresh_token;
pub mod scope;
pub mod secret;
pub mod text;
pub mod token;
pub mod usage;
pub mod user;

pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use error::{ErrorChain, ErrorCode, OAuthError};
