//! What differs between the engines at the bottom of every aggregate: connecting,
//! migrating, error mapping, write transactions and their locking, and the few SQL
//! spellings the dialects disagree on. Each engine module offers the same names, so
//! SQL that both engines accept is written once inside [`for_each_engine!`] and
//! compiled against each of them.

pub(crate) mod postgres;
pub(crate) mod sqlite;

use crate::StoreError;

/// What a driver error means for the caller; each engine reads its own codes.
pub(crate) enum Failure {
    Busy,
    Unavailable,
    Conflict(String),
    Backend,
}

impl Failure {
    /// The store error, keeping the driver's error as its cause.
    pub(crate) fn into_error(self, engine: &str, cause: sqlx::Error) -> StoreError {
        match self {
            Failure::Busy => StoreError::Busy,
            Failure::Conflict(why) => StoreError::Conflict(why),
            Failure::Unavailable => StoreError::unavailable_because(engine, cause),
            Failure::Backend => StoreError::backend_because(engine, cause),
        }
    }
}

/// Compiles the enclosed items twice: as module `sqlite`, seeing
/// `engine::sqlite`'s `Db`, `Conn`, `Tx`, `error`, `begin_write`, …, and as module
/// `postgres`, seeing `engine::postgres`'s. The items also see their parent module
/// (`super::*`) and, through the engine module, the other aggregates' instantiations
/// for the same engine (`clients::insert`, `audit::insert`, …).
macro_rules! for_each_engine {
    ($($item:item)*) => {
        pub(crate) mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::engine::sqlite::*;
            $($item)*
        }
        pub(crate) mod postgres {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::engine::postgres::*;
            $($item)*
        }
    };
}
pub(crate) use for_each_engine;

/// The driver error of a write, where a row it names through a foreign key (a user, a
/// client) does not exist, perhaps deleted a moment before: that is `NotFound`, not a
/// failure. Anything else is mapped by the engine's `error`.
pub(crate) fn or_missing(err: sqlx::Error, error: fn(sqlx::Error) -> StoreError) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => error(err),
    }
}
