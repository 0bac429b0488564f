use thetasecure_store::RevokedAccessToken;

use crate::support::*;

conformance!(revocations_are_idempotent_and_purged_after_expiry);

async fn revocations_are_idempotent_and_purged_after_expiry(env: Env) {
    let tokens = env.store.tokens();
    let revoked = |jti: &str, expires_at| RevokedAccessToken {
        jti: jti.to_owned(),
        client_id: id("ts_c"),
        expires_at,
    };
    assert!(!tokens.is_access_token_revoked("j1").await.unwrap());
    tokens
        .revoke_access_token(&revoked("j1", at(100)))
        .await
        .unwrap();
    tokens
        .revoke_access_token(&revoked("j1", at(100)))
        .await
        .unwrap();
    tokens
        .revoke_access_token(&revoked("j2", at(200)))
        .await
        .unwrap();
    tokens
        .revoke_access_token(&revoked("j3", at(300)))
        .await
        .unwrap();
    assert!(tokens.is_access_token_revoked("j1").await.unwrap());
    assert!(!tokens.is_access_token_revoked("J1").await.unwrap());
    let mut among = tokens
        .revoked_among(&["j3", "J1", "j9", "j1"])
        .await
        .unwrap();
    among.sort();
    assert_eq!(
        among,
        ["j1", "j3"],
        "exactly the revoked ones, case-sensitive"
    );
    assert!(tokens.revoked_among(&[]).await.unwrap().is_empty());

    assert_eq!(tokens.purge_expired(at(99)).await.unwrap(), 0);
    assert_eq!(
        tokens.purge_expired(at(200)).await.unwrap(),
        2,
        "expired at or before now"
    );
    assert!(!tokens.is_access_token_revoked("j1").await.unwrap());
    assert!(!tokens.is_access_token_revoked("j2").await.unwrap());
    assert!(tokens.is_access_token_revoked("j3").await.unwrap());
    assert_eq!(tokens.purge_expired(at(200)).await.unwrap(), 0);
}
