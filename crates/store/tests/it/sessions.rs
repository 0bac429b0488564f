use thetasecure_core::Timestamp;
use thetasecure_store::{SessionRecord, StoreError};

use crate::support::*;

conformance!(
    sessions_create_get_touch_and_revoke,
    sessions_listed_revoked_per_user_and_purged,
    sessions_go_with_their_user,
    flashes_are_read_once_per_session
);

/// A session of `user_id` from `created_at`: idle for 30 min, at most 8 h.
fn session(id_hash: &str, user_id: &str, created_at: Timestamp) -> SessionRecord {
    SessionRecord {
        id_hash: id_hash.to_owned(),
        user_id: user_id.to_owned(),
        auth_time: created_at,
        created_at,
        last_seen_at: created_at,
        idle_expires_at: created_at.plus_seconds(1800),
        absolute_expires_at: created_at.plus_seconds(8 * 3600),
        revoked_at: None,
    }
}

async fn sessions_create_get_touch_and_revoke(env: Env) {
    create_user(&env.store, "u-1", "alice").await;
    let sessions = env.store.sessions();
    let s1 = session("s1", "u-1", NOW);
    sessions.create(&s1).await.unwrap();
    assert_eq!(sessions.get("s1").await.unwrap(), Some(s1.clone()));
    assert_eq!(sessions.get("S1").await.unwrap(), None);
    assert!(matches!(
        sessions.create(&s1).await.unwrap_err(),
        StoreError::Conflict(_)
    ));
    assert_eq!(
        sessions
            .create(&session("s9", "u-9", NOW))
            .await
            .unwrap_err(),
        StoreError::NotFound,
        "no such user"
    );

    // The idle expiry never passes the absolute one, at creation or when touched.
    let mut long = session("s2", "u-1", NOW);
    long.idle_expires_at = at(9 * 3600);
    sessions.create(&long).await.unwrap();
    let stored = sessions.get("s2").await.unwrap().unwrap();
    assert_eq!(stored.idle_expires_at, long.absolute_expires_at);

    sessions.touch("s1", at(60), at(1860)).await.unwrap();
    let touched = sessions.get("s1").await.unwrap().unwrap();
    assert_eq!(
        (touched.last_seen_at, touched.idle_expires_at),
        (at(60), at(1860))
    );
    assert_eq!(touched.absolute_expires_at, s1.absolute_expires_at);
    sessions.touch("s1", at(120), at(10 * 3600)).await.unwrap();
    let touched = sessions.get("s1").await.unwrap().unwrap();
    assert_eq!(
        (touched.last_seen_at, touched.idle_expires_at),
        (at(120), s1.absolute_expires_at)
    );

    // A session idle past its expiry is not revived by a late touch.
    let s3 = session("s3", "u-1", NOW);
    sessions.create(&s3).await.unwrap();
    sessions.touch("s3", at(1800), at(3600)).await.unwrap();
    assert_eq!(sessions.get("s3").await.unwrap(), Some(s3.clone()));
    assert!(!sessions.revoke("s3", at(1800)).await.unwrap(), "expired");

    assert!(sessions.revoke("s1", at(200)).await.unwrap());
    assert!(
        !sessions.revoke("s1", at(201)).await.unwrap(),
        "already revoked"
    );
    assert!(!sessions.revoke("nope", at(201)).await.unwrap());
    let revoked = sessions.get("s1").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at(200)));
    assert!(!revoked.is_live(at(200)));
    sessions.touch("s1", at(300), at(2100)).await.unwrap();
    assert_eq!(
        sessions.get("s1").await.unwrap(),
        Some(revoked),
        "a revoked session is not touched"
    );
}

async fn sessions_listed_revoked_per_user_and_purged(env: Env) {
    create_user(&env.store, "u-1", "alice").await;
    create_user(&env.store, "u-2", "bob").await;
    let sessions = env.store.sessions();
    let a = session("a", "u-1", at(0));
    let b = session("b", "u-1", at(10));
    let mut revoked = session("c", "u-1", at(20));
    revoked.revoked_at = Some(at(25));
    let mut idle = session("d", "u-1", at(30));
    idle.idle_expires_at = at(35);
    let other = session("e", "u-2", at(40));
    for s in [&a, &b, &revoked, &idle, &other] {
        sessions.create(s).await.unwrap();
    }

    let live = sessions.list_for_user("u-1", at(40)).await.unwrap();
    assert_eq!(live, [b.clone(), a.clone()], "live ones, newest first");
    assert!(
        sessions
            .list_for_user("u-9", at(40))
            .await
            .unwrap()
            .is_empty()
    );

    let n = sessions
        .revoke_for_user("u-1", at(50), &audit("user.sessions_revoked", "u-1"))
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!(
        sessions
            .list_for_user("u-1", at(50))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        sessions.get("a").await.unwrap().unwrap().revoked_at,
        Some(at(50))
    );
    assert_eq!(
        sessions.get("c").await.unwrap().unwrap().revoked_at,
        Some(at(25)),
        "an earlier revocation stands"
    );
    assert_eq!(
        sessions.list_for_user("u-2", at(50)).await.unwrap(),
        std::slice::from_ref(&other)
    );
    assert_eq!(
        sessions
            .revoke_for_user("u-1", at(60), &audit("user.sessions_revoked", "u-1"))
            .await
            .unwrap(),
        0
    );
    let actions = audit_actions(&env.store).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "user.sessions_revoked")
            .count(),
        2
    );

    // Revoked (a, b, c) and expired (d) sessions go; the live one stays.
    assert_eq!(sessions.purge_expired(at(60)).await.unwrap(), 4);
    for gone in ["a", "b", "c", "d"] {
        assert_eq!(sessions.get(gone).await.unwrap(), None, "{gone}");
    }
    assert_eq!(sessions.get("e").await.unwrap(), Some(other.clone()));
    assert_eq!(
        sessions.purge_expired(other.idle_expires_at).await.unwrap(),
        1
    );
}

async fn sessions_go_with_their_user(env: Env) {
    create_user(&env.store, "u-1", "alice").await;
    create_user(&env.store, "u-2", "bob").await;
    let sessions = env.store.sessions();
    sessions.create(&session("a", "u-1", NOW)).await.unwrap();
    sessions.create(&session("b", "u-2", NOW)).await.unwrap();
    env.store
        .users()
        .delete("u-1", &audit("user.deleted", "u-1"))
        .await
        .unwrap();
    assert_eq!(sessions.get("a").await.unwrap(), None);
    assert!(sessions.get("b").await.unwrap().is_some());
}

async fn flashes_are_read_once_per_session(env: Env) {
    create_user(&env.store, "u-1", "alice").await;
    let sessions = env.store.sessions();
    sessions.create(&session("s1", "u-1", NOW)).await.unwrap();
    sessions.create(&session("s2", "u-1", NOW)).await.unwrap();
    assert_eq!(
        sessions
            .put_flash("nobody", "client:x", b"x", at(300))
            .await
            .unwrap_err(),
        StoreError::NotFound,
        "no such session"
    );
    sessions
        .put_flash("s1", "client:x", b"first", at(300))
        .await
        .unwrap();
    sessions
        .put_flash("s1", "client:x", b"second", at(300))
        .await
        .unwrap();
    assert_eq!(
        sessions.take_flash("s2", "client:x", NOW).await.unwrap(),
        None,
        "another session's"
    );
    assert_eq!(
        sessions.take_flash("s1", "client:y", NOW).await.unwrap(),
        None
    );
    assert_eq!(
        sessions.take_flash("s1", "client:x", NOW).await.unwrap(),
        Some(b"second".to_vec()),
        "the last one kept"
    );
    assert_eq!(
        sessions.take_flash("s1", "client:x", NOW).await.unwrap(),
        None,
        "read once"
    );

    sessions
        .put_flash("s1", "client:x", b"late", at(300))
        .await
        .unwrap();
    assert_eq!(
        sessions
            .take_flash("s1", "client:x", at(300))
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        sessions.take_flash("s1", "client:x", NOW).await.unwrap(),
        None,
        "and gone"
    );
}
