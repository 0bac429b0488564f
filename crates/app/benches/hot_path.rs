//! Micro-benchmarks of the pieces on the token path (issue #3): JWS signing per
//! algorithm (ours, with the key parsed once, against `jsonwebtoken::encode`, which parses
//! it on every call), secret verification, scope parsing and redirect URI validation.
//!
//! Run: `cargo bench -p thetasecure-app --bench hot_path`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use thetasecure_app::keys::{SigningAlg, SigningKey, generate_pkcs8};
use thetasecure_core::redirect_uri::RedirectUri;
use thetasecure_core::scope::ScopeSet;
use thetasecure_core::secret::{PlainSecret, SecretHasher};
use thetasecure_core::token::AccessTokenClaims;

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: "http://127.0.0.1:8080".into(),
        sub: "ts_abcdefghijklmnopqrstuvwxyz".into(),
        aud: "http://127.0.0.1:8080".into(),
        exp: 1_795_714_000,
        iat: 1_795_710_400,
        jti: "019ac0a5-2c3e-7d32-8948-b5d6ee1b9b53".into(),
        client_id: "ts_abcdefghijklmnopqrstuvwxyz".into(),
        scope: "directory.read directory.write".into(),
    }
}

fn signing(c: &mut Criterion) {
    let claims = claims();
    let mut group = c.benchmark_group("jws_sign");
    for (alg, jwt_alg) in [
        (SigningAlg::Es256, jsonwebtoken::Algorithm::ES256),
        (SigningAlg::EdDsa, jsonwebtoken::Algorithm::EdDSA),
        (SigningAlg::Rs256, jsonwebtoken::Algorithm::RS256),
    ] {
        let pkcs8 = generate_pkcs8(alg).unwrap();
        let key = SigningKey::from_pkcs8("kid".into(), alg, &pkcs8).unwrap();
        group.bench_function(format!("{alg}/parsed_once"), |b| {
            b.iter(|| key.sign_access_token(black_box(&claims)).unwrap())
        });
        let encoding = match alg {
            SigningAlg::Es256 => jsonwebtoken::EncodingKey::from_ec_der(&pkcs8),
            SigningAlg::EdDsa => jsonwebtoken::EncodingKey::from_ed_der(&pkcs8),
            SigningAlg::Rs256 => jsonwebtoken::EncodingKey::from_rsa_der(&pkcs8),
        };
        let mut header = jsonwebtoken::Header::new(jwt_alg);
        header.typ = Some("at+jwt".into());
        header.kid = Some("kid".into());
        // RSA from aws-lc-rs PKCS#8 DER fails in jsonwebtoken (ARCHITECTURE "known traps").
        if jsonwebtoken::encode(&header, &claims, &encoding).is_ok() {
            group.bench_function(format!("{alg}/jsonwebtoken_encode"), |b| {
                b.iter(|| {
                    jsonwebtoken::encode(black_box(&header), black_box(&claims), &encoding).unwrap()
                })
            });
        }
    }
    group.finish();
}

fn secrets(c: &mut Criterion) {
    let hasher = SecretHasher::from_server_key(&[7u8; 32]);
    let secret = PlainSecret::generate();
    let stored = hasher.hash(&secret);
    c.bench_function("secret_verify", |b| {
        b.iter(|| hasher.verify(black_box(&secret), black_box(&stored)))
    });
}

fn parsing(c: &mut Criterion) {
    c.bench_function("scope_parse", |b| {
        b.iter(|| {
            ScopeSet::parse(black_box(
                "openid profile email offline_access directory.read",
            ))
            .unwrap()
        })
    });
    c.bench_function("redirect_uri_parse", |b| {
        b.iter(|| {
            RedirectUri::parse(
                black_box("https://app.example.com/oauth2/callback?tenant=42"),
                false,
            )
            .unwrap()
        })
    });
    let loopback = RedirectUri::parse("http://127.0.0.1/callback", true).unwrap();
    c.bench_function("redirect_uri_match_loopback", |b| {
        b.iter(|| loopback.matches(black_box("http://127.0.0.1:51234/callback")))
    });
}

criterion_group!(benches, signing, secrets, parsing);
criterion_main!(benches);
