//! The store conformance suite: every case runs on SQLite and on PostgreSQL, each on a
//! fresh database (`TestDatabase`). PostgreSQL cases skip with a printed reason when
//! THETASECURE_TEST_DATABASE_URL is unset, and fail instead when CI=true.

// Tests may fail loudly (ARCHITECTURE "Conventions"); clippy's test exemption does not
// reach helper functions of an integration-test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod support;

mod audit;
mod authorization_codes;
mod bootstrap;
mod changes;
mod client_changes;
mod clients;
mod consents;
mod keys;
mod lifecycle;
mod read_cost;
mod refresh_tokens;
mod scopes;
mod secrets;
mod sessions;
mod sign_in_failures;
mod tokens;
mod usage;
mod users;
