use thetasecure_core::user::UserStatus;
use thetasecure_store::{StoreError, UserCursor, UserFilter};

use crate::support::*;

conformance!(
    users_create_get_find_and_update,
    users_list_search_and_pages,
    the_last_active_admin_stays,
    two_demotions_race_and_one_admin_stays
);

fn all(search: Option<&str>, status: Option<UserStatus>, limit: u32) -> UserFilter {
    UserFilter {
        search: search.map(str::to_owned),
        status,
        limit,
        after: None,
    }
}

async fn usernames(env: &Env, filter: &UserFilter) -> Vec<String> {
    let page = env.store.users().list(filter).await.unwrap();
    page.items.into_iter().map(|u| u.profile.username).collect()
}

async fn users_create_get_find_and_update(env: Env) {
    let users = env.store.users();
    let alice = user("u-1", "Alice", false, at(1));
    users
        .create(&alice, &audit("user.created", "u-1"))
        .await
        .unwrap();
    assert_eq!(users.get("u-1").await.unwrap(), Some(alice.user.clone()));
    assert_eq!(users.get("u-2").await.unwrap(), None);

    // Usernames are unique without regard to case, Unicode included.
    let twin = user("u-2", "ALICE", false, at(2));
    let err = users
        .create(&twin, &audit("user.created", "u-2"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict("username `ALICE` is taken".into())
    );
    users
        .create(
            &user("u-3", "Émile", false, at(3)),
            &audit("user.created", "u-3"),
        )
        .await
        .unwrap();
    let err = users
        .create(
            &user("u-4", "émile", false, at(4)),
            &audit("user.created", "u-4"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let found = users.for_sign_in("aLiCe").await.unwrap().unwrap();
    assert_eq!(found, alice);
    assert_eq!(
        users.for_sign_in("ÉMILE").await.unwrap().unwrap().user.id,
        "u-3"
    );
    assert_eq!(users.for_sign_in("bob").await.unwrap(), None);

    // A change replaces the profile, and the hash only when one is given.
    let mut changed = alice.user.clone();
    changed.profile.username = "alice.b".into();
    changed.profile.email = None;
    changed.profile.status = UserStatus::Disabled;
    changed.updated_at = at(10);
    users
        .update(&changed, None, &audit("user.updated", "u-1"))
        .await
        .unwrap();
    let found = users.for_sign_in("Alice.B").await.unwrap().unwrap();
    assert_eq!(
        (found.user, found.password_hash),
        (changed.clone(), alice.password_hash.clone())
    );
    assert_eq!(users.for_sign_in("alice").await.unwrap(), None);
    users
        .update(
            &changed,
            Some("$argon2id$new"),
            &audit("user.updated", "u-1"),
        )
        .await
        .unwrap();
    assert_eq!(
        users
            .for_sign_in("alice.b")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$new"
    );

    // Renaming onto another's name is refused and changes nothing.
    let mut clash = changed.clone();
    clash.profile.username = "émile".into();
    let err = users
        .update(&clash, Some("$x"), &audit("user.updated", "u-1"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict("username `émile` is taken".into())
    );
    assert_eq!(users.get("u-1").await.unwrap(), Some(changed.clone()));

    let mut ghost = changed.clone();
    ghost.id = "u-9".into();
    ghost.profile.username = "ghost".into();
    let err = users
        .update(&ghost, None, &audit("user.updated", "u-9"))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::NotFound);

    users
        .delete("u-1", &audit("user.deleted", "u-1"))
        .await
        .unwrap();
    assert_eq!(users.get("u-1").await.unwrap(), None);
    assert_eq!(
        users
            .delete("u-1", &audit("user.deleted", "u-1"))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        audit_actions(&env.store).await,
        [
            "user.deleted",
            "user.updated",
            "user.updated",
            "user.created",
            "user.created"
        ],
        "newest first; the refused changes wrote none"
    );
}

async fn users_list_search_and_pages(env: Env) {
    let users = env.store.users();
    for (i, name) in ["Ann", "Bob", "Zoë", "Ann-Marie", "Carl"]
        .iter()
        .enumerate()
    {
        let id = format!("u-{i}");
        users
            .create(
                &user(&id, name, false, at(i as i64)),
                &audit("user.created", &id),
            )
            .await
            .unwrap();
    }
    let mut bob = users.get("u-1").await.unwrap().unwrap();
    bob.profile.status = UserStatus::Disabled;
    users
        .update(&bob, None, &audit("user.updated", "u-1"))
        .await
        .unwrap();

    assert_eq!(
        usernames(&env, &all(None, None, 50)).await,
        ["Carl", "Ann-Marie", "Zoë", "Bob", "Ann"]
    );
    // Username, e-mail and display name, without case; never across two fields.
    assert_eq!(
        usernames(&env, &all(Some("ANN"), None, 50)).await,
        ["Ann-Marie", "Ann"]
    );
    assert_eq!(usernames(&env, &all(Some("ZOË"), None, 50)).await, ["Zoë"]);
    assert_eq!(
        usernames(&env, &all(Some("carl@example"), None, 50)).await,
        ["Carl"]
    );
    assert_eq!(
        usernames(&env, &all(Some("ä bob"), None, 50)).await,
        ["Bob"]
    );
    assert!(
        usernames(&env, &all(Some("example.com ä"), None, 50))
            .await
            .is_empty()
    );
    assert!(usernames(&env, &all(Some("%"), None, 50)).await.is_empty());
    assert_eq!(
        usernames(&env, &all(None, Some(UserStatus::Disabled), 50)).await,
        ["Bob"]
    );

    let first = users.list(&all(None, None, 2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let next = first.next.clone().unwrap();
    assert_eq!(
        next,
        UserCursor {
            created_at: at(3),
            id: "u-3".into()
        }
    );
    let second = UserFilter {
        after: Some(next),
        ..all(None, None, 2)
    };
    assert_eq!(usernames(&env, &second).await, ["Zoë", "Bob"]);
    let last = users
        .list(&UserFilter {
            after: Some(UserCursor {
                created_at: at(1),
                id: "u-1".into(),
            }),
            ..all(None, None, 2)
        })
        .await
        .unwrap();
    assert_eq!(last.items.len(), 1);
    assert_eq!(last.next, None);
}

async fn the_last_active_admin_stays(env: Env) {
    let users = env.store.users();
    let root = user("u-root", "root", true, at(1));
    users
        .create(&root, &audit("user.created", "u-root"))
        .await
        .unwrap();
    let last = StoreError::Conflict(
        "this is the last active admin user; make another user an admin first".into(),
    );
    let mut demoted = root.user.clone();
    demoted.profile.is_admin = false;
    assert_eq!(
        users
            .update(&demoted, None, &audit("user.updated", "u-root"))
            .await
            .unwrap_err(),
        last
    );
    let mut disabled = root.user.clone();
    disabled.profile.status = UserStatus::Disabled;
    assert_eq!(
        users
            .update(&disabled, None, &audit("user.updated", "u-root"))
            .await
            .unwrap_err(),
        last
    );
    assert_eq!(
        users
            .delete("u-root", &audit("user.deleted", "u-root"))
            .await
            .unwrap_err(),
        last
    );
    // Its other fields still change.
    let mut renamed = root.user.clone();
    renamed.profile.display_name = None;
    users
        .update(&renamed, None, &audit("user.updated", "u-root"))
        .await
        .unwrap();

    // A disabled admin does not count; a second active one does.
    let mut sleeper = user("u-2", "sleeper", true, at(2));
    sleeper.user.profile.status = UserStatus::Disabled;
    users
        .create(&sleeper, &audit("user.created", "u-2"))
        .await
        .unwrap();
    assert_eq!(
        users
            .delete("u-root", &audit("user.deleted", "u-root"))
            .await
            .unwrap_err(),
        last
    );
    users
        .create(
            &user("u-3", "second", true, at(3)),
            &audit("user.created", "u-3"),
        )
        .await
        .unwrap();
    users
        .delete("u-root", &audit("user.deleted", "u-root"))
        .await
        .unwrap();
    assert_eq!(
        users
            .delete("u-3", &audit("user.deleted", "u-3"))
            .await
            .unwrap_err(),
        last
    );
    users
        .delete("u-2", &audit("user.deleted", "u-2"))
        .await
        .unwrap();
}

/// Two instances each demote a different one of the two admins at once: one wins, and
/// an admin remains.
async fn two_demotions_race_and_one_admin_stays(env: Env) {
    let other = env.second_store().await;
    let users = env.store.users();
    for (id, name) in [("u-a", "a"), ("u-b", "b")] {
        users
            .create(&user(id, name, true, at(1)), &audit("user.created", id))
            .await
            .unwrap();
    }
    let demote = |id: &str| {
        let mut demoted = user(id, if id == "u-a" { "a" } else { "b" }, false, at(1)).user;
        demoted.updated_at = at(5);
        demoted
    };
    let (a, b) = (demote("u-a"), demote("u-b"));
    let (audit_a, audit_b) = (audit("user.updated", "u-a"), audit("user.updated", "u-b"));
    let (users_b, users_a) = (other.users(), env.store.users());
    let (first, second) = tokio::join!(
        users_a.update(&a, None, &audit_a),
        users_b.update(&b, None, &audit_b)
    );
    assert!(first.is_ok() ^ second.is_ok(), "{first:?} {second:?}");
    let admins = users
        .list(&all(None, None, 10))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|u| u.profile.is_admin)
        .count();
    assert_eq!(admins, 1);
    other.close().await;
}
