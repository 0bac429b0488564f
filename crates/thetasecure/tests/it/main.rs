//! End-to-end tests: the real binary, real HTTP, real SQLite and PostgreSQL. Every case
//! that touches storage runs on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod support;

mod admin_auth;
mod authorization_code;
mod bootstrap;
mod browser;
mod change_feed;
mod cli;
mod client_address;
mod client_cache;
mod client_metadata;
mod clients_api;
mod console;
mod discovery;
mod json_bodies;
mod lifecycle;
mod logout;
mod oidc;
mod openapi;
mod operations;
mod outage;
mod password_grant;
mod refresh_token;
mod secrets;
mod snapshots;
mod stored_text;
mod token;
mod usage;
mod users_api;
