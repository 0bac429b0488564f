use thetasecure_store::{RefreshTokenRecord, RevokedTokens, Rotation, StoreError};

use crate::support::*;

conformance!(
    refresh_tokens_rotate_once,
    a_failed_rotation_writes_nothing,
    families_revoked_by_family_user_and_client,
    refresh_tokens_are_purged_after_expiry,
    concurrent_rotations_have_one_winner,
    a_user_disabled_after_the_read_gets_no_successor,
    a_user_disabled_after_the_read_gets_no_replacement,
    a_user_disabled_after_the_sign_in_gets_no_first_token,
    a_revocation_racing_a_rotation_leaves_no_live_token,
    refresh_tokens_go_with_their_user_and_client,
    a_retry_replaces_the_unused_successor_once,
    concurrent_retries_leave_one_live_pair,
    a_first_token_is_stored_with_its_audit_entry
);

fn rotated(
    token: &RefreshTokenRecord,
    at: thetasecure_core::Timestamp,
    successor: &str,
) -> RefreshTokenRecord {
    RefreshTokenRecord {
        rotated_at: Some(at),
        successor_hash: Some(successor.to_owned()),
        ..token.clone()
    }
}

async fn refresh_tokens_rotate_once(env: Env) {
    create_user_and_client(&env.store).await;
    let refresh = env.store.refresh_tokens();
    let rt1 = refresh_token("rt1", "fam-1", NOW);
    refresh.insert(&rt1).await.unwrap();
    assert_eq!(refresh.get("rt1").await.unwrap(), Some(rt1.clone()));
    assert_eq!(refresh.get("RT1").await.unwrap(), None);
    assert_eq!(refresh.get_with_user("RT1").await.unwrap(), None);
    assert!(matches!(
        refresh.insert(&rt1).await.unwrap_err(),
        StoreError::Conflict(_)
    ));
    let mut stray = refresh_token("rt9", "fam-9", NOW);
    stray.user_id = "u-9".to_owned();
    assert_eq!(
        refresh.insert(&stray).await.unwrap_err(),
        StoreError::NotFound
    );

    let rt2 = refresh_token("rt2", "fam-1", at(10));
    assert_eq!(
        refresh.rotate("rt1", at(10), &rt2).await.unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        refresh.get("rt1").await.unwrap(),
        Some(rotated(&rt1, at(10), "rt2"))
    );
    assert_eq!(refresh.get("rt2").await.unwrap(), Some(rt2.clone()));
    // Issued at 10 s, its user created at 0: each keeps its own times.
    let alice = env.store.users().get("u-1").await.unwrap().unwrap();
    assert_eq!(
        refresh.get_with_user("rt2").await.unwrap(),
        Some((rt2.clone(), alice))
    );

    // Presenting rt1 again is reuse: its state comes back and nothing is stored.
    let rt3 = refresh_token("rt3", "fam-1", at(11));
    assert_eq!(
        refresh.rotate("rt1", at(11), &rt3).await.unwrap(),
        Rotation::AlreadyRotated(rotated(&rt1, at(10), "rt2"))
    );
    assert_eq!(refresh.get("rt3").await.unwrap(), None);
    assert_eq!(
        refresh.rotate("nope", at(11), &rt3).await.unwrap(),
        Rotation::Unknown
    );

    // At its expiry a token is just too late, not reused.
    let late = refresh_token("rt4", "fam-4", NOW);
    refresh.insert(&late).await.unwrap();
    assert_eq!(
        refresh
            .rotate(
                "rt4",
                late.expires_at,
                &refresh_token("rt5", "fam-4", late.expires_at)
            )
            .await
            .unwrap(),
        Rotation::Expired(late.clone())
    );
    assert_eq!(refresh.get("rt5").await.unwrap(), None);

    refresh.revoke_family("fam-1", at(20), None).await.unwrap();
    let revoked = refresh.get("rt2").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at(20)));
    assert_eq!(
        refresh.rotate("rt2", at(21), &rt3).await.unwrap(),
        Rotation::Revoked(revoked)
    );
    assert!(matches!(
        refresh.rotate("rt1", at(21), &rt3).await.unwrap(),
        Rotation::Revoked(_)
    ));
    assert_eq!(refresh.get("rt3").await.unwrap(), None);
}

async fn a_failed_rotation_writes_nothing(env: Env) {
    create_user_and_client(&env.store).await;
    let refresh = env.store.refresh_tokens();
    let rt1 = refresh_token("rt1", "fam-1", NOW);
    let taken = refresh_token("taken", "fam-2", NOW);
    refresh.insert(&rt1).await.unwrap();
    refresh.insert(&taken).await.unwrap();
    let err = refresh
        .rotate("rt1", at(1), &refresh_token("taken", "fam-1", at(1)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(refresh.get("rt1").await.unwrap(), Some(rt1), "still live");
    assert_eq!(refresh.get("taken").await.unwrap(), Some(taken));
    assert_eq!(
        refresh
            .rotate("rt1", at(2), &refresh_token("rt2", "fam-1", at(2)))
            .await
            .unwrap(),
        Rotation::Rotated
    );
}

async fn families_revoked_by_family_user_and_client(env: Env) {
    create_user_and_client(&env.store).await;
    create_other_user_and_client(&env.store).await;
    let refresh = env.store.refresh_tokens();
    let tokens = env.store.tokens();
    // fam-1: rt1 rotated to rt2 (u-1, ts_app); fam-3: rt3 (u-1, ts_other);
    // fam-4 and fam-5: rt4 and rt5 (u-2, ts_app), rt5's access token expired at(5).
    refresh
        .insert(&refresh_token("rt1", "fam-1", at(0)))
        .await
        .unwrap();
    let rt2 = refresh_token("rt2", "fam-1", at(1));
    refresh.rotate("rt1", at(1), &rt2).await.unwrap();
    let mut rt3 = refresh_token("rt3", "fam-3", at(2));
    rt3.client_id = id("ts_other");
    refresh.insert(&rt3).await.unwrap();
    let mut rt4 = refresh_token("rt4", "fam-4", at(3));
    rt4.user_id = "u-2".to_owned();
    refresh.insert(&rt4).await.unwrap();
    let mut rt5 = refresh_token("rt5", "fam-5", at(3));
    rt5.user_id = "u-2".to_owned();
    rt5.access_token_expires_at = Some(at(5));
    refresh.insert(&rt5).await.unwrap();

    assert_eq!(
        refresh.list_families_for_user("u-1", at(10)).await.unwrap(),
        [rt3.clone(), rt2.clone()],
        "each family's head, newest first"
    );

    // A family: both tokens, rotated one included, and both access tokens, which it
    // names (once: a second revocation revokes nothing new).
    let mut family = refresh.revoke_family("fam-1", at(10), None).await.unwrap();
    family.access_token_jtis.sort();
    assert_eq!(
        family,
        RevokedTokens {
            refresh_tokens: 2,
            access_token_jtis: vec!["jti-rt1".into(), "jti-rt2".into()],
        }
    );
    assert_eq!(
        refresh.revoke_family("fam-1", at(11), None).await.unwrap(),
        RevokedTokens::default()
    );
    assert_eq!(
        refresh.list_families_for_user("u-1", at(11)).await.unwrap(),
        [rt3.clone()]
    );
    let mut revoked = tokens
        .revoked_among(&["jti-rt1", "jti-rt2", "jti-rt3", "jti-rt4", "jti-rt5"])
        .await
        .unwrap();
    revoked.sort();
    assert_eq!(revoked, ["jti-rt1", "jti-rt2"]);

    // A client's tokens.
    let n = refresh
        .revoke_for_client(
            &id("ts_other"),
            at(20),
            &audit("client.tokens_revoked", "ts_other"),
        )
        .await
        .unwrap();
    assert_eq!(n.refresh_tokens, 1);
    assert_eq!(n.access_token_jtis, ["jti-rt3"]);
    assert_eq!(
        refresh.get("rt3").await.unwrap().unwrap().revoked_at,
        Some(at(20))
    );
    assert!(tokens.is_access_token_revoked("jti-rt3").await.unwrap());
    assert!(
        refresh
            .list_families_for_user("u-1", at(20))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(refresh.get("rt4").await.unwrap().unwrap().revoked_at, None);

    // A user's tokens; an access token already expired needs no revocation record.
    let n = refresh
        .revoke_for_user("u-2", at(30), &audit("user.tokens_revoked", "u-2"))
        .await
        .unwrap();
    assert_eq!(n.refresh_tokens, 2);
    assert_eq!(n.access_token_jtis, ["jti-rt4"], "rt5's had expired");
    assert!(
        refresh
            .list_families_for_user("u-2", at(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tokens.is_access_token_revoked("jti-rt4").await.unwrap());
    assert!(!tokens.is_access_token_revoked("jti-rt5").await.unwrap());

    refresh
        .revoke_family("fam-1", at(40), Some(&audit("refresh.reused", "ts_app")))
        .await
        .unwrap();
    let actions = audit_actions(&env.store).await;
    for action in [
        "client.tokens_revoked",
        "user.tokens_revoked",
        "refresh.reused",
    ] {
        assert_eq!(
            actions.iter().filter(|a| *a == action).count(),
            1,
            "{action}"
        );
    }
}

async fn refresh_tokens_are_purged_after_expiry(env: Env) {
    create_user_and_client(&env.store).await;
    let refresh = env.store.refresh_tokens();
    refresh
        .insert(&refresh_token("old", "fam-1", at(0)))
        .await
        .unwrap();
    refresh
        .rotate("old", at(10), &refresh_token("new", "fam-1", at(10)))
        .await
        .unwrap();
    // Both live an hour from their creation.
    assert_eq!(refresh.purge_expired(at(3599)).await.unwrap(), 0);
    assert_eq!(refresh.purge_expired(at(3600)).await.unwrap(), 1);
    assert_eq!(refresh.get("old").await.unwrap(), None);
    assert!(refresh.get("new").await.unwrap().is_some());
    assert_eq!(refresh.purge_expired(at(3610)).await.unwrap(), 1);
    assert_eq!(refresh.get("new").await.unwrap(), None);
}

async fn concurrent_rotations_have_one_winner(env: Env) {
    create_user_and_client(&env.store).await;
    let stores = [env.store.clone(), env.second_store().await];
    let rt0 = refresh_token("rt0", "fam", NOW);
    stores[0].refresh_tokens().insert(&rt0).await.unwrap();
    let racers = (1..=10).map(|n| {
        let store = stores[n % 2].clone();
        tokio::spawn(async move {
            let next = refresh_token(&format!("rt{n}"), "fam", at(1));
            store.refresh_tokens().rotate("rt0", at(1), &next).await
        })
    });
    let outcomes: Vec<Rotation> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    let winners = outcomes.iter().filter(|o| **o == Rotation::Rotated).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    let after = env
        .store
        .refresh_tokens()
        .get("rt0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.rotated_at, Some(at(1)));
    assert!(
        outcomes
            .iter()
            .all(|o| *o == Rotation::Rotated || *o == Rotation::AlreadyRotated(after.clone())),
        "{outcomes:?}"
    );
    // It names the one successor stored.
    let successor = after.successor_hash.unwrap();
    assert!(
        env.store
            .refresh_tokens()
            .get(&successor)
            .await
            .unwrap()
            .is_some()
    );
    let heads = env
        .store
        .refresh_tokens()
        .list_families_for_user("u-1", at(2))
        .await
        .unwrap();
    assert_eq!(heads.len(), 1, "one successor stored");
    stores[1].close().await;
}

/// Whichever commits first, a family revoked while one of its tokens is being rotated
/// ends with no live token: the revocation also takes the new token, or the rotation
/// finds the old one revoked.
async fn a_revocation_racing_a_rotation_leaves_no_live_token(env: Env) {
    create_user_and_client(&env.store).await;
    let stores = [env.store.clone(), env.second_store().await];
    for round in 0..10 {
        let family = format!("fam-{round}");
        let old = format!("old-{round}");
        stores[0]
            .refresh_tokens()
            .insert(&refresh_token(&old, &family, NOW))
            .await
            .unwrap();
        let (rotator, revoker) = (stores[round % 2].clone(), stores[(round + 1) % 2].clone());
        let next = refresh_token(&format!("new-{round}"), &family, at(1));
        let rotation = tokio::spawn({
            let old = old.clone();
            async move { rotator.refresh_tokens().rotate(&old, at(1), &next).await }
        });
        let revocation = tokio::spawn({
            let family = family.clone();
            async move {
                revoker
                    .refresh_tokens()
                    .revoke_family(&family, at(1), None)
                    .await
            }
        });
        let rotation = rotation.await.unwrap().unwrap();
        revocation.await.unwrap().unwrap();
        assert!(
            matches!(rotation, Rotation::Rotated | Rotation::Revoked(_)),
            "{rotation:?}"
        );
        let live = env
            .store
            .refresh_tokens()
            .list_families_for_user("u-1", at(2))
            .await
            .unwrap();
        assert!(
            live.is_empty(),
            "round {round}: {live:?} still live after {rotation:?}"
        );
    }
    stores[1].close().await;
}

async fn refresh_tokens_go_with_their_user_and_client(env: Env) {
    create_user_and_client(&env.store).await;
    create_other_user_and_client(&env.store).await;
    let refresh = env.store.refresh_tokens();
    let mut of_other_client = refresh_token("rt-client", "fam-1", NOW);
    of_other_client.client_id = id("ts_other");
    let mut of_other_user = refresh_token("rt-user", "fam-2", NOW);
    of_other_user.user_id = "u-2".to_owned();
    for t in [
        &refresh_token("rt-kept", "fam-3", NOW),
        &of_other_client,
        &of_other_user,
    ] {
        refresh.insert(t).await.unwrap();
    }
    delete_other_user_and_client(&env.store).await;
    assert_eq!(refresh.get("rt-client").await.unwrap(), None);
    assert_eq!(refresh.get("rt-user").await.unwrap(), None);
    assert!(refresh.get("rt-kept").await.unwrap().is_some());
}

/// The retry cases' start: user `u-1` and client `ts_app`, whose family `fam-1` began
/// with rt1 at `NOW`, rotated at 1 s to rt2, which is returned (unused).
async fn rt1_rotated_to_rt2(env: &Env) -> RefreshTokenRecord {
    create_user_and_client(&env.store).await;
    let refresh = env.store.refresh_tokens();
    refresh
        .insert(&refresh_token("rt1", "fam-1", NOW))
        .await
        .unwrap();
    let rt2 = refresh_token("rt2", "fam-1", at(1));
    assert_eq!(
        refresh.rotate("rt1", at(1), &rt2).await.unwrap(),
        Rotation::Rotated
    );
    rt2
}

/// A retry within the grace window: rt1 was rotated to rt2; the retry retires rt2 (and its
/// access token) and stores rt3 as rt1's successor, with its audit entry. A second retry
/// naming rt2 finds it replaced; one naming a successor that was used finds it used.
async fn a_retry_replaces_the_unused_successor_once(env: Env) {
    rt1_rotated_to_rt2(&env).await;
    let refresh = env.store.refresh_tokens();
    let rt3 = refresh_token("rt3", "fam-1", at(2));
    let retried = audit("refresh_token.retried", "ts_app");
    let retired = refresh
        .replace_successor("rt1", "rt2", at(2), &rt3, &retried)
        .await
        .unwrap()
        .expect("the first retry replaces rt2");
    assert_eq!(
        retired.access_token_jtis,
        ["jti-rt2"],
        "what caches holding rt2's access token must drop"
    );
    let rt1 = refresh.get("rt1").await.unwrap().unwrap();
    assert_eq!(
        (rt1.rotated_at, rt1.successor_hash.as_deref()),
        (Some(at(1)), Some("rt3")),
        "rotated when it was, now replaced by rt3"
    );
    assert_eq!(
        refresh.get("rt2").await.unwrap().unwrap().revoked_at,
        Some(at(2))
    );
    assert_eq!(refresh.get("rt3").await.unwrap(), Some(rt3.clone()));
    let tokens = env.store.tokens();
    assert!(tokens.is_access_token_revoked("jti-rt2").await.unwrap());
    assert!(!tokens.is_access_token_revoked("jti-rt3").await.unwrap());
    assert_eq!(
        refresh.list_families_for_user("u-1", at(3)).await.unwrap(),
        std::slice::from_ref(&rt3)
    );
    assert!(
        audit_actions(&env.store)
            .await
            .contains(&"refresh_token.retried".to_owned())
    );

    // rt2 is no longer rt1's successor: a late retry naming it writes nothing.
    let late = refresh_token("rt4", "fam-1", at(3));
    assert_eq!(
        refresh
            .replace_successor("rt1", "rt2", at(3), &late, &retried)
            .await
            .unwrap(),
        None
    );
    assert_eq!(refresh.get("rt4").await.unwrap(), None);
    // Once rt3 is used, it cannot be replaced either.
    refresh
        .rotate("rt3", at(4), &refresh_token("rt5", "fam-1", at(4)))
        .await
        .unwrap();
    assert_eq!(
        refresh
            .replace_successor("rt1", "rt3", at(5), &late, &retried)
            .await
            .unwrap(),
        None
    );
    assert_eq!(refresh.get("rt4").await.unwrap(), None);
    assert_eq!(refresh.get("rt5").await.unwrap().unwrap().revoked_at, None);
    // Nor after the family is revoked.
    refresh.revoke_family("fam-1", at(6), None).await.unwrap();
    assert_eq!(
        refresh
            .replace_successor("rt3", "rt5", at(6), &late, &retried)
            .await
            .unwrap(),
        None
    );
    assert_eq!(refresh.get("rt4").await.unwrap(), None);
}

/// Ten retries of one rotated token at once, over two connections (two instances):
/// exactly one replaces the successor, so one token of the family lives.
async fn concurrent_retries_leave_one_live_pair(env: Env) {
    create_user_and_client(&env.store).await;
    let stores = [env.store.clone(), env.second_store().await];
    let refresh = env.store.refresh_tokens();
    refresh
        .insert(&refresh_token("rt0", "fam", NOW))
        .await
        .unwrap();
    refresh
        .rotate("rt0", at(1), &refresh_token("rt1", "fam", at(1)))
        .await
        .unwrap();
    let racers = (2..12).map(|n| {
        let store = stores[n % 2].clone();
        tokio::spawn(async move {
            let next = refresh_token(&format!("rt{n}"), "fam", at(2));
            store
                .refresh_tokens()
                .replace_successor(
                    "rt0",
                    "rt1",
                    at(2),
                    &next,
                    &audit("refresh_token.retried", "ts_app"),
                )
                .await
        })
    });
    let won: Vec<bool> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap().is_some())
        .collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let live = refresh.list_families_for_user("u-1", at(3)).await.unwrap();
    assert_eq!(live.len(), 1, "{live:?}");
    let rt0 = refresh.get("rt0").await.unwrap().unwrap();
    assert_eq!(
        rt0.successor_hash.as_deref(),
        Some(live[0].token_hash.as_str())
    );
    stores[1].close().await;
}

async fn a_first_token_is_stored_with_its_audit_entry(env: Env) {
    create_user_and_client(&env.store).await;
    let refresh = env.store.refresh_tokens();
    let rt1 = refresh_token("rt1", "fam-1", NOW);
    refresh
        .insert_audited(&rt1, &audit("password_grant.issued", "ts_app"))
        .await
        .unwrap();
    assert_eq!(refresh.get("rt1").await.unwrap(), Some(rt1.clone()));
    assert!(
        audit_actions(&env.store)
            .await
            .contains(&"password_grant.issued".to_owned())
    );
    // A conflict writes neither.
    let again = refresh
        .insert_audited(&rt1, &audit("password_grant.again", "ts_app"))
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    assert!(
        !audit_actions(&env.store)
            .await
            .contains(&"password_grant.again".to_owned())
    );
}

/// As for codes: a user disabled after the token was read gets no successor, and the
/// presented token stays as it was (the sign-out revokes it).
async fn a_user_disabled_after_the_read_gets_no_successor(env: Env) {
    create_user_and_client(&env.store).await;
    let refresh = env.store.refresh_tokens();
    let rt1 = refresh_token("rt1", "fam-1", NOW);
    refresh.insert(&rt1).await.unwrap();
    let (_, alice) = refresh.get_with_user("rt1").await.unwrap().unwrap();
    assert!(alice.is_active());
    disable_user(&env.store, "u-1").await;

    let rt2 = refresh_token("rt2", "fam-1", at(10));
    assert_eq!(
        refresh.rotate("rt1", at(10), &rt2).await.unwrap(),
        Rotation::UserInactive
    );
    assert_eq!(refresh.get("rt1").await.unwrap(), Some(rt1));
    assert_eq!(refresh.get("rt2").await.unwrap(), None);
}

/// A retry within the grace window issues tokens too: a user disabled after the read
/// gets no replacement, and the successor stays as it was.
async fn a_user_disabled_after_the_read_gets_no_replacement(env: Env) {
    let rt2 = rt1_rotated_to_rt2(&env).await;
    let refresh = env.store.refresh_tokens();
    disable_user(&env.store, "u-1").await;

    let rt3 = refresh_token("rt3", "fam-1", at(2));
    let retried = audit("refresh_token.retried", "ts_app");
    assert_eq!(
        refresh
            .replace_successor("rt1", "rt2", at(2), &rt3, &retried)
            .await
            .unwrap(),
        None
    );
    assert_eq!(refresh.get("rt2").await.unwrap(), Some(rt2));
    assert_eq!(refresh.get("rt3").await.unwrap(), None);
}

/// The password grant's first token: a user disabled after the sign-in gets none, and
/// no audit entry says otherwise.
async fn a_user_disabled_after_the_sign_in_gets_no_first_token(env: Env) {
    create_user_and_client(&env.store).await;
    disable_user(&env.store, "u-1").await;
    let refresh = env.store.refresh_tokens();
    assert_eq!(
        refresh
            .insert_audited(
                &refresh_token("rt1", "fam-1", NOW),
                &audit("password_grant.issued", "ts_app")
            )
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(refresh.get("rt1").await.unwrap(), None);
    assert!(
        !audit_actions(&env.store)
            .await
            .contains(&"password_grant.issued".to_owned())
    );
}
