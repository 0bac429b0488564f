use thetasecure_core::Timestamp;
use thetasecure_store::{AuthorizationCodeRecord, StoreError};

use crate::support::*;

conformance!(
    codes_insert_get_and_redeem_once,
    a_failed_redemption_writes_nothing,
    a_replayed_code_revokes_what_it_issued,
    codes_are_purged_after_replay_no_longer_matters,
    concurrent_redemptions_have_one_winner,
    a_user_disabled_after_the_read_gets_nothing_from_a_code,
    codes_go_with_their_user_and_client
);

/// A code for `u-1` at `ts_app`, issued at `created_at`, living 60 s.
fn code(hash: &str, created_at: Timestamp) -> AuthorizationCodeRecord {
    AuthorizationCodeRecord {
        code_hash: hash.to_owned(),
        client_id: id("ts_app"),
        user_id: "u-1".to_owned(),
        session_id_hash: Some("s-hash".to_owned()),
        redirect_uri: "http://127.0.0.1:51000/callback".to_owned(),
        scope: "openid offline_access".to_owned(),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
        nonce: Some("n-0S6_WzA2Mj".to_owned()),
        auth_time: created_at,
        created_at,
        expires_at: created_at.plus_seconds(60),
        redeemed_at: None,
        access_token_jti: None,
        access_token_expires_at: None,
        refresh_family_id: None,
    }
}

async fn codes_insert_get_and_redeem_once(env: Env) {
    create_user_and_client(&env.store).await;
    let codes = env.store.authorization_codes();
    let c1 = code("c1", NOW);
    codes.insert(&c1).await.unwrap();
    assert_eq!(codes.get("c1").await.unwrap(), Some(c1.clone()));
    assert_eq!(codes.get("C1").await.unwrap(), None);
    // Issued at 30 s, its user created at 0: each keeps its own times.
    let c3 = code("c3", at(30));
    codes.insert(&c3).await.unwrap();
    let alice = env.store.users().get("u-1").await.unwrap().unwrap();
    assert_eq!(codes.get_with_user("c3").await.unwrap(), Some((c3, alice)));
    assert_eq!(codes.get_with_user("C3").await.unwrap(), None);
    assert!(matches!(
        codes.insert(&c1).await.unwrap_err(),
        StoreError::Conflict(_)
    ));
    let mut stray = code("c9", NOW);
    stray.client_id = id("ts_gone");
    assert_eq!(
        codes.insert(&stray).await.unwrap_err(),
        StoreError::NotFound
    );
    let mut stray = code("c9", NOW);
    stray.user_id = "u-9".to_owned();
    assert_eq!(
        codes.insert(&stray).await.unwrap_err(),
        StoreError::NotFound
    );

    let rt = refresh_token("rt1", "fam-1", at(10));
    assert!(
        codes
            .redeem("c1", at(10), "jti-c1", at(310), Some(&rt))
            .await
            .unwrap()
    );
    let redeemed = codes.get("c1").await.unwrap().unwrap();
    assert_eq!(
        redeemed,
        AuthorizationCodeRecord {
            redeemed_at: Some(at(10)),
            access_token_jti: Some("jti-c1".to_owned()),
            access_token_expires_at: Some(at(310)),
            refresh_family_id: Some("fam-1".to_owned()),
            ..c1.clone()
        }
    );
    let refresh = env.store.refresh_tokens();
    assert_eq!(refresh.get("rt1").await.unwrap(), Some(rt.clone()));

    // A second redemption loses, and stores nothing.
    let rt2 = refresh_token("rt2", "fam-2", at(11));
    assert!(
        !codes
            .redeem("c1", at(11), "jti-again", at(311), Some(&rt2))
            .await
            .unwrap()
    );
    assert_eq!(codes.get("c1").await.unwrap(), Some(redeemed));
    assert_eq!(refresh.get("rt2").await.unwrap(), None);

    // Unknown and expired codes lose too; a code may be redeemed without a refresh token.
    assert!(
        !codes
            .redeem("nope", at(11), "j", at(311), None)
            .await
            .unwrap()
    );
    codes.insert(&code("c2", NOW)).await.unwrap();
    assert!(
        !codes
            .redeem("c2", at(60), "j", at(360), None)
            .await
            .unwrap()
    );
    assert_eq!(codes.get("c2").await.unwrap().unwrap().redeemed_at, None);
    assert!(
        codes
            .redeem("c2", at(59), "jti-c2", at(359), None)
            .await
            .unwrap()
    );
    let c2 = codes.get("c2").await.unwrap().unwrap();
    assert_eq!(
        (c2.access_token_jti.as_deref(), c2.refresh_family_id),
        (Some("jti-c2"), None)
    );
}

async fn a_failed_redemption_writes_nothing(env: Env) {
    create_user_and_client(&env.store).await;
    let codes = env.store.authorization_codes();
    let refresh = env.store.refresh_tokens();
    let taken = refresh_token("rt1", "fam-1", NOW);
    refresh.insert(&taken).await.unwrap();
    codes.insert(&code("c1", NOW)).await.unwrap();
    // The refresh token cannot be stored (its hash exists): the code stays unredeemed.
    let err = codes
        .redeem(
            "c1",
            at(1),
            "jti-c1",
            at(301),
            Some(&refresh_token("rt1", "fam-2", at(1))),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(codes.get("c1").await.unwrap(), Some(code("c1", NOW)));
    assert_eq!(refresh.get("rt1").await.unwrap(), Some(taken));
    assert!(
        codes
            .redeem("c1", at(2), "jti-c1", at(302), None)
            .await
            .unwrap()
    );
}

async fn a_replayed_code_revokes_what_it_issued(env: Env) {
    create_user_and_client(&env.store).await;
    let codes = env.store.authorization_codes();
    let refresh = env.store.refresh_tokens();
    let tokens = env.store.tokens();

    // c1 started family fam-1, since rotated once; rt9 is another grant's.
    codes.insert(&code("c1", NOW)).await.unwrap();
    let mut rt1 = refresh_token("rt1", "fam-1", at(1));
    rt1.access_token_jti = Some("jti-c1".to_owned());
    assert!(
        codes
            .redeem("c1", at(1), "jti-c1", at(301), Some(&rt1))
            .await
            .unwrap()
    );
    let rt2 = refresh_token("rt2", "fam-1", at(5));
    refresh.rotate("rt1", at(5), &rt2).await.unwrap();
    refresh
        .insert(&refresh_token("rt9", "fam-9", at(6)))
        .await
        .unwrap();
    // c2 was redeemed without a refresh token.
    codes.insert(&code("c2", NOW)).await.unwrap();
    assert!(
        codes
            .redeem("c2", at(2), "jti-c2", at(302), None)
            .await
            .unwrap()
    );

    codes
        .revoke_grants("c1", at(20), &audit("code.replayed", "ts_app"))
        .await
        .unwrap();
    for hash in ["rt1", "rt2"] {
        let token = refresh.get(hash).await.unwrap().unwrap();
        assert_eq!(token.revoked_at, Some(at(20)), "{hash}");
    }
    assert_eq!(refresh.get("rt9").await.unwrap().unwrap().revoked_at, None);
    let mut revoked = tokens
        .revoked_among(&["jti-c1", "jti-rt2", "jti-rt9", "jti-c2"])
        .await
        .unwrap();
    revoked.sort();
    assert_eq!(revoked, ["jti-c1", "jti-rt2"]);

    codes
        .revoke_grants("c2", at(21), &audit("code.replayed", "ts_app"))
        .await
        .unwrap();
    assert!(tokens.is_access_token_revoked("jti-c2").await.unwrap());
    assert_eq!(
        codes
            .revoke_grants("nope", at(21), &audit("code.replayed", "ts_app"))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    let actions = audit_actions(&env.store).await;
    assert_eq!(actions.iter().filter(|a| *a == "code.replayed").count(), 2);
}

async fn codes_are_purged_after_replay_no_longer_matters(env: Env) {
    create_user_and_client(&env.store).await;
    let codes = env.store.authorization_codes();
    codes.insert(&code("unused", NOW)).await.unwrap(); // expires at(60)
    codes.insert(&code("redeemed", NOW)).await.unwrap();
    assert!(
        codes
            .redeem("redeemed", at(10), "j", at(310), None)
            .await
            .unwrap()
    );
    codes.insert(&code("later", at(40))).await.unwrap(); // expires at(100)

    assert_eq!(codes.purge_expired(at(59)).await.unwrap(), 0);
    assert_eq!(codes.purge_expired(at(60)).await.unwrap(), 1);
    assert_eq!(codes.get("unused").await.unwrap(), None);
    assert_eq!(codes.purge_expired(at(309)).await.unwrap(), 1, "later");
    assert!(
        codes.get("redeemed").await.unwrap().is_some(),
        "kept while its access token lives"
    );
    assert_eq!(codes.purge_expired(at(310)).await.unwrap(), 1);
    assert_eq!(codes.get("redeemed").await.unwrap(), None);
}

async fn concurrent_redemptions_have_one_winner(env: Env) {
    create_user_and_client(&env.store).await;
    let stores = [env.store.clone(), env.second_store().await];
    stores[0]
        .authorization_codes()
        .insert(&code("c1", NOW))
        .await
        .unwrap();
    let racers = (0..10).map(|n| {
        let store = stores[n % 2].clone();
        tokio::spawn(async move {
            let rt = refresh_token(&format!("rt{n}"), &format!("fam-{n}"), at(1));
            store
                .authorization_codes()
                .redeem("c1", at(1), &format!("jti-{n}"), at(301), Some(&rt))
                .await
        })
    });
    let outcomes: Vec<bool> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|won| **won).count(),
        1,
        "{outcomes:?}"
    );
    let winner = outcomes.iter().position(|won| *won).unwrap();
    let code = env
        .store
        .authorization_codes()
        .get("c1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code.access_token_jti, Some(format!("jti-{winner}")));
    let refresh = env.store.refresh_tokens();
    for n in 0..10 {
        let stored = refresh.get(&format!("rt{n}")).await.unwrap();
        assert_eq!(stored.is_some(), n == winner, "rt{n}");
    }
    stores[1].close().await;
}

async fn codes_go_with_their_user_and_client(env: Env) {
    create_user_and_client(&env.store).await;
    create_other_user_and_client(&env.store).await;
    let codes = env.store.authorization_codes();
    let mut of_other_client = code("c-client", NOW);
    of_other_client.client_id = id("ts_other");
    let mut of_other_user = code("c-user", NOW);
    of_other_user.user_id = "u-2".to_owned();
    for c in [&code("c-kept", NOW), &of_other_client, &of_other_user] {
        codes.insert(c).await.unwrap();
    }
    delete_other_user_and_client(&env.store).await;
    assert_eq!(codes.get("c-client").await.unwrap(), None);
    assert_eq!(codes.get("c-user").await.unwrap(), None);
    assert!(codes.get("c-kept").await.unwrap().is_some());
}

/// The token path reads the code with its user, checks the user is active and signs;
/// a user disabled in between (whose sign-out everywhere may already be past) must get
/// nothing: the code stays unredeemed and no refresh token is stored.
async fn a_user_disabled_after_the_read_gets_nothing_from_a_code(env: Env) {
    create_user_and_client(&env.store).await;
    let codes = env.store.authorization_codes();
    codes.insert(&code("c1", NOW)).await.unwrap();
    codes.insert(&code("c2", NOW)).await.unwrap();
    let (_, alice) = codes.get_with_user("c1").await.unwrap().unwrap();
    assert!(alice.is_active());
    disable_user(&env.store, "u-1").await;

    let rt = refresh_token("rt1", "fam-1", at(10));
    assert!(
        !codes
            .redeem("c1", at(10), "jti-c1", at(310), Some(&rt))
            .await
            .unwrap()
    );
    assert!(
        !codes
            .redeem("c2", at(10), "jti-c2", at(310), None)
            .await
            .unwrap()
    );
    assert_eq!(codes.get("c1").await.unwrap().unwrap().redeemed_at, None);
    assert_eq!(codes.get("c2").await.unwrap().unwrap().redeemed_at, None);
    assert_eq!(env.store.refresh_tokens().get("rt1").await.unwrap(), None);
}

/// PostgreSQL, where writers do not queue: a disabling not yet committed holds a
/// redemption of its user's code back, and once it commits the redemption finds the
/// user disabled. (The other order, a redemption holding the user's row until its group
/// commits, makes the disabling wait, so that the sign-out after it finds the tokens.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabling_in_flight_holds_a_redemption_back_postgres() {
    use sqlx::{Connection, PgConnection};

    run(thetasecure_store::Engine::Postgres, |env| async move {
        create_user_and_client(&env.store).await;
        let codes = env.store.authorization_codes();
        codes.insert(&code("c1", NOW)).await.unwrap();
        let mut admin = PgConnection::connect(&env.url).await.unwrap();
        let mut disabling = admin.begin().await.unwrap();
        sqlx::query("UPDATE users SET status = 'disabled' WHERE id = 'u-1'")
            .execute(&mut *disabling)
            .await
            .unwrap();

        let store = env.store.clone();
        let redemption = tokio::spawn(async move {
            let rt = refresh_token("rt1", "fam-1", at(10));
            store
                .authorization_codes()
                .redeem("c1", at(10), "jti-c1", at(310), Some(&rt))
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            !redemption.is_finished(),
            "the redemption went ahead of a disabling of its user in flight"
        );
        disabling.commit().await.unwrap();
        assert!(!redemption.await.unwrap().unwrap());
        assert_eq!(codes.get("c1").await.unwrap().unwrap().redeemed_at, None);
        assert_eq!(env.store.refresh_tokens().get("rt1").await.unwrap(), None);
    })
    .await;
}
