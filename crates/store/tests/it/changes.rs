//! The change feed: on PostgreSQL a committed change reaches every store listening on
//! the database, a rolled-back one reaches none, and the listener comes back by itself
//! after its connection is killed. SQLite has no feed. Also, both engines: revoking a
//! user's tokens (and deleting the user) revokes the access tokens of codes that issued
//! no refresh token, and says which were revoked.

use std::time::Duration;

use thetasecure_store::testing::TestDatabase;
use thetasecure_store::{
    AuthorizationCodeRecord, Change, ChangeFeed, Engine, FeedEvent, RevokedAccessToken,
};

use crate::support::*;

/// The next event, which must come within a few seconds.
async fn next(feed: &mut ChangeFeed) -> FeedEvent {
    tokio::time::timeout(Duration::from_secs(5), feed.next())
        .await
        .expect("an event within 5 s")
        .expect("the feed is running")
}

/// A feed that is listening already.
async fn listening(store: &thetasecure_store::Store) -> ChangeFeed {
    let mut feed = store.subscribe_to_changes().expect("PostgreSQL has a feed");
    assert_eq!(next(&mut feed).await, FeedEvent::Listening);
    feed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_changes_reach_every_listener_and_rolled_back_ones_none() {
    let Some(db) = TestDatabase::new(Engine::Postgres).await else {
        return;
    };
    let store = db.store().await;
    let other_instance = db.store().await;
    let (mut own, mut other) = (listening(&store).await, listening(&other_instance).await);

    // Rolled back: the client does not exist, so the update's transaction (which sent
    // its notification) ends without a commit.
    let ghost = client("ts_ghost", "Ghost", NOW);
    let missing = store
        .clients()
        .update(&ghost, &audit("client.updated", "ts_ghost"))
        .await;
    assert!(matches!(
        missing,
        Err(thetasecure_store::StoreError::NotFound)
    ));

    store
        .scopes()
        .create(
            &scope("feed:read", false),
            &audit("scope.created", "feed:read"),
        )
        .await
        .unwrap();
    create_client(&store, "ts_app", "App", NOW).await;
    let revoked = RevokedAccessToken {
        jti: "jti-1".into(),
        client_id: id("ts_app"),
        expires_at: NOW.plus_seconds(600),
    };
    store.tokens().revoke_access_token(&revoked).await.unwrap();
    store.tokens().revoke_access_token(&revoked).await.unwrap(); // nothing new: no change
    store
        .clients()
        .delete(&id("ts_app"), &audit("client.deleted", "ts_app"))
        .await
        .unwrap();

    // A client create is not announced: its id is new, so no instance can hold it.
    let expected = [
        FeedEvent::Change(Change::ScopesChanged),
        FeedEvent::Change(Change::AccessTokensRevoked {
            jtis: vec!["jti-1".into()],
        }),
        FeedEvent::Change(Change::ClientDeleted {
            client_id: id("ts_app"),
        }),
    ];
    for feed in [&mut own, &mut other] {
        for event in &expected {
            assert_eq!(&next(feed).await, event);
        }
    }
    store.close().await;
    other_instance.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_comes_back_after_its_connection_is_killed() {
    let Some(db) = TestDatabase::new(Engine::Postgres).await else {
        return;
    };
    let store = db.store().await;
    let mut feed = listening(&store).await;
    let before = db.change_feed_listeners().await;
    assert_eq!(before.len(), 1, "one listener on this schema");

    assert_eq!(db.cut_change_feed().await, 1);
    assert_eq!(next(&mut feed).await, FeedEvent::Interrupted);
    assert_eq!(
        next(&mut feed).await,
        FeedEvent::Listening,
        "again, by itself"
    );
    let after = db.change_feed_listeners().await;
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "a new connection");

    store
        .scopes()
        .create(&scope("later", false), &audit("scope.created", "later"))
        .await
        .unwrap();
    assert_eq!(
        next(&mut feed).await,
        FeedEvent::Change(Change::ScopesChanged)
    );

    // The listener stops with its feed.
    drop(feed);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !db.change_feed_listeners().await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the listener is still connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.close().await;
}

#[tokio::test]
async fn sqlite_has_no_feed() {
    let db = TestDatabase::new(Engine::Sqlite).await.unwrap();
    let store = db.store().await;
    assert!(store.subscribe_to_changes().is_none());
    store.close().await;
}

/// An access token redeemed from a code that issued no refresh token is recorded only
/// with the code: revoking the user's tokens, or deleting the user, revokes it too.
async fn a_users_revocation_takes_the_access_tokens_of_its_codes(env: Env) {
    create_user_and_client(&env.store).await;
    create_other_user_and_client(&env.store).await;
    let codes = env.store.authorization_codes();
    for (hash, user) in [("c1", "u-1"), ("c2", "u-2")] {
        let code = AuthorizationCodeRecord {
            code_hash: hash.into(),
            client_id: id("ts_app"),
            user_id: user.into(),
            session_id_hash: None,
            redirect_uri: "http://127.0.0.1:51000/callback".into(),
            scope: "openid".into(),
            code_challenge: None,
            nonce: None,
            auth_time: NOW,
            created_at: NOW,
            expires_at: NOW.plus_seconds(60),
            redeemed_at: None,
            access_token_jti: None,
            access_token_expires_at: None,
            refresh_family_id: None,
        };
        codes.insert(&code).await.unwrap();
        let jti = format!("jti-{hash}");
        assert!(
            codes
                .redeem(hash, NOW, &jti, NOW.plus_seconds(600), None)
                .await
                .unwrap()
        );
    }
    env.store
        .refresh_tokens()
        .insert(&refresh_token("rt1", "fam-1", NOW))
        .await
        .unwrap();

    let mut revoked = env
        .store
        .refresh_tokens()
        .revoke_for_user("u-1", NOW, &audit("user.refresh_tokens_revoked", "u-1"))
        .await
        .unwrap();
    revoked.access_token_jtis.sort();
    assert_eq!(revoked.refresh_tokens, 1);
    assert_eq!(revoked.access_token_jtis, ["jti-c1", "jti-rt1"]);
    let tokens = env.store.tokens();
    assert!(tokens.is_access_token_revoked("jti-c1").await.unwrap());
    assert!(!tokens.is_access_token_revoked("jti-c2").await.unwrap());

    // Deleting u-2 revokes its token before the code that records it goes.
    let deleted = env
        .store
        .users()
        .delete("u-2", &audit("user.deleted", "u-2"))
        .await
        .unwrap();
    assert_eq!(deleted.access_token_jtis, ["jti-c2"]);
    assert!(tokens.is_access_token_revoked("jti-c2").await.unwrap());
    assert!(
        codes.get("c2").await.unwrap().is_none(),
        "deleted with the user"
    );
}

conformance!(a_users_revocation_takes_the_access_tokens_of_its_codes);
