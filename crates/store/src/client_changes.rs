//! The log of client changes (`client_changes`): one row per change to a client,
//! written by `publish` in the changing transaction, read by every instance after the
//! highest sequence number it has seen, pruned after [`RETENTION`].
//!
//! A reader ([`ClientChangeReader`]) keeps a connection of its own, so its reads do not
//! queue behind token traffic for the pool. Sequence numbers are taken at insert and, on
//! PostgreSQL, committed out of order: a number below the highest seen may still appear.
//! A reader therefore re-reads from a floor that trails by [`OVERLAP`] and reports each
//! number once. Times are the database's clock, so no instance's clock matters.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use thetasecure_core::ids::ClientId;

use crate::changes::Change;
use crate::engine::for_each_engine;
use crate::rows::client_id;
use crate::{Backend, Store, StoreError};

/// How long a row is kept: far longer than any reader's outage that it can bridge
/// (a longer one makes the reader report [`ClientChangesRead::Unknown`]).
pub const RETENTION: Duration = Duration::from_secs(600);

/// How far behind the highest number seen a reader re-reads: longer than a transaction
/// may stay open between taking its number and committing (a PostgreSQL store call is
/// given up after 4 s).
pub const OVERLAP: Duration = Duration::from_secs(10);

/// A reader that has not read for this long may have missed pruned rows.
const GAP_MAX: Duration = Duration::from_secs(RETENTION.as_secs() / 2);

/// How long one read may take before it counts as failed.
const READ_WITHIN: Duration = Duration::from_secs(4);

/// The application name of a reader's PostgreSQL connection, for `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "thetasecure-change-log";

/// One logged change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientChangeRecord {
    pub seq: i64,
    pub client_id: ClientId,
}

/// What a read of the log found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientChangesRead {
    /// These clients changed since the last read (possibly none).
    Changed(Vec<ClientId>),
    /// The reader was away long enough that logged changes may have been pruned:
    /// treat every client as changed.
    Unknown,
}

pub struct ClientChanges<'a> {
    pub(crate) store: &'a Store,
}

impl ClientChanges<'_> {
    /// Logged changes numbered above `seq`, in order, through the pool.
    pub async fn since(&self, seq: i64) -> Result<Vec<ClientChangeRecord>, StoreError> {
        dispatch!(self.store, since_on_pool(seq))
    }

    /// Deletes the rows older than [`RETENTION`]; returns how many.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        self.prune_older_than(RETENTION).await
    }

    /// Deletes the rows older than `age` by the database's clock; returns how many.
    pub async fn prune_older_than(&self, age: Duration) -> Result<u64, StoreError> {
        let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        dispatch!(self.store, prune(age_ms))
    }

    /// A reader with a connection of its own; it connects at its first read.
    pub fn reader(&self) -> ClientChangeReader {
        let source = match &self.store.backend {
            Backend::Sqlite(db) => Source::Sqlite {
                options: (*db.pool.connect_options()).clone(),
                conn: None,
                data_version: None,
            },
            Backend::Postgres(db) => Source::Postgres {
                options: (*db.options).clone().application_name(APPLICATION_NAME),
                conn: None,
            },
        };
        ClientChangeReader {
            source,
            cursor: Cursor::default(),
            last_success: None,
        }
    }
}

/// Reads the log from where it last stopped; see the module's notes.
pub struct ClientChangeReader {
    source: Source,
    cursor: Cursor,
    last_success: Option<Instant>,
}

enum Source {
    Sqlite {
        options: SqliteConnectOptions,
        conn: Option<SqliteConnection>,
        /// `PRAGMA data_version` at the last read: it changes only when another
        /// connection commits, so while it stays the same there is nothing to read.
        data_version: Option<i64>,
    },
    Postgres {
        options: PgConnectOptions,
        conn: Option<PgConnection>,
    },
}

impl ClientChangeReader {
    /// The clients changed since the last successful read. A failed read changes
    /// nothing: the next one reads from the same place, on a new connection.
    pub async fn read(&mut self) -> Result<ClientChangesRead, StoreError> {
        let started = Instant::now();
        let rows = tokio::time::timeout(READ_WITHIN, self.rows())
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::unavailable(
                    "the change log did not answer in time",
                ))
            });
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => {
                self.source.disconnect();
                return Err(error);
            }
        };
        let away_too_long = self
            .last_success
            .is_some_and(|last| started.saturating_duration_since(last) > GAP_MAX);
        self.last_success = Some(started);
        let changed = self.cursor.advance(started, rows);
        if away_too_long {
            return Ok(ClientChangesRead::Unknown);
        }
        changed
            .iter()
            .map(|id| client_id(id))
            .collect::<Result<Vec<_>, _>>()
            .map(ClientChangesRead::Changed)
    }

    /// The rows above the cursor's floor (none when SQLite says nothing was committed).
    async fn rows(&mut self) -> Result<Vec<(i64, String)>, StoreError> {
        let first = self.cursor.floor.is_none();
        match &mut self.source {
            Source::Sqlite {
                options,
                conn,
                data_version,
            } => {
                let conn = connected(conn, options, crate::engine::sqlite::error).await?;
                let version = sqlite_only::data_version(conn).await?;
                if !first && *data_version == Some(version) {
                    return Ok(Vec::new());
                }
                *data_version = Some(version);
                if first {
                    self.cursor.floor = Some(sqlite::initial_floor(conn).await?);
                }
                sqlite::since(conn, self.cursor.floor.unwrap_or(0)).await
            }
            Source::Postgres { options, conn } => {
                let conn = connected(conn, options, crate::engine::postgres::error).await?;
                if first {
                    self.cursor.floor = Some(postgres::initial_floor(conn).await?);
                }
                postgres::since(conn, self.cursor.floor.unwrap_or(0)).await
            }
        }
    }
}

/// The reader's own connection, made on first use or after `disconnect`.
async fn connected<'c, O>(
    conn: &'c mut Option<O::Connection>,
    options: &O,
    error: fn(sqlx::Error) -> StoreError,
) -> Result<&'c mut O::Connection, StoreError>
where
    O: ConnectOptions,
    O::Connection: Sized,
{
    match conn {
        Some(conn) => Ok(conn),
        None => Ok(conn.insert(options.connect().await.map_err(error)?)),
    }
}

impl Source {
    /// Forgets the connection: the next read makes a new one.
    fn disconnect(&mut self) {
        match self {
            Source::Sqlite {
                conn, data_version, ..
            } => {
                *conn = None;
                *data_version = None;
            }
            Source::Postgres { conn, .. } => *conn = None,
        }
    }
}

/// Where a reader stands: every number at or below `floor` has been reported or never
/// will be (its transaction ended before a read that came after), and `seen` holds the
/// numbers above it reported already.
#[derive(Debug, Default)]
struct Cursor {
    floor: Option<i64>,
    seen: BTreeSet<i64>,
    /// Each successful read's start and the highest number seen by its end, oldest first.
    reads: VecDeque<(Instant, i64)>,
}

impl Cursor {
    /// Takes the rows a read that started at `started` found above the floor; returns the
    /// client ids of those not reported before.
    fn advance(&mut self, started: Instant, rows: Vec<(i64, String)>) -> Vec<String> {
        let floor = self.floor.unwrap_or(0);
        let mut changed = Vec::new();
        for (seq, id) in rows {
            if seq > floor && self.seen.insert(seq) {
                changed.push(id);
            }
        }
        let highest = self.seen.last().copied().unwrap_or(floor);
        self.reads.push_back((started, highest));
        // A number at or below what a read had seen was taken before that read started;
        // when that was at least OVERLAP before this read, its transaction has ended,
        // and this read saw it if it committed. The next read can start above it.
        let mut new_floor = None;
        while let Some(&(at, high)) = self.reads.front() {
            if started.saturating_duration_since(at) < OVERLAP {
                break;
            }
            new_floor = Some(high);
            self.reads.pop_front();
        }
        if let Some(new_floor) = new_floor.filter(|&f| f > floor) {
            self.floor = Some(new_floor);
            self.seen = self.seen.split_off(&(new_floor + 1));
        }
        changed
    }
}

for_each_engine! {
    /// Logs `change` on `conn` (in its transaction) when it is a client's.
    pub(crate) async fn record(conn: &mut Conn, change: &Change) -> Result<(), StoreError> {
        let Some(id) = change.changed_client() else {
            return Ok(());
        };
        sqlx::query(concat!(
            "INSERT INTO client_changes (client_id, changed_at) VALUES ($1, ",
            now_ms!(),
            ")"
        ))
        .bind(id.as_str())
        .execute(conn)
        .await
        .map_err(error)?;
        Ok(())
    }

    pub(crate) async fn since(conn: &mut Conn, seq: i64) -> Result<Vec<(i64, String)>, StoreError> {
        sqlx::query_as("SELECT seq, client_id FROM client_changes WHERE seq > $1 ORDER BY seq")
            .bind(seq)
            .fetch_all(conn)
            .await
            .map_err(error)
    }

    pub(crate) async fn since_on_pool(db: &Db, seq: i64) -> Result<Vec<ClientChangeRecord>, StoreError> {
        let mut conn = db.pool.acquire().await.map_err(error)?;
        let rows = since(&mut conn, seq).await?;
        rows.into_iter()
            .map(|(seq, id)| Ok(ClientChangeRecord { seq, client_id: client_id(&id)? }))
            .collect()
    }

    /// Where a new reader starts: below every number that may still be committed (taken
    /// less than OVERLAP ago), above every older one. Nothing is cached before a
    /// reader's first read, so older changes need not be reported.
    pub(crate) async fn initial_floor(conn: &mut Conn) -> Result<i64, StoreError> {
        let overlap_ms = i64::try_from(OVERLAP.as_millis()).unwrap_or(i64::MAX);
        sqlx::query_scalar(concat!(
            "SELECT COALESCE(MAX(seq), 0) FROM client_changes WHERE changed_at < ",
            now_ms!(),
            " - $1"
        ))
        .bind(overlap_ms)
        .fetch_one(conn)
        .await
        .map_err(error)
    }

    pub(crate) async fn prune(db: &Db, age_ms: i64) -> Result<u64, StoreError> {
        let _turn = db.turn_to_write().await?;
        let done = sqlx::query(concat!(
            "DELETE FROM client_changes WHERE changed_at < ",
            now_ms!(),
            " - $1"
        ))
        .bind(age_ms)
        .execute(&db.pool)
        .await
        .map_err(error)?;
        Ok(done.rows_affected())
    }
}

/// SQLite's count of commits by other connections, as this connection sees it.
mod sqlite_only {
    use super::*;

    pub(super) async fn data_version(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
        sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(conn)
            .await
            .map_err(crate::engine::sqlite::error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(seqs: &[i64]) -> Vec<(i64, String)> {
        seqs.iter().map(|seq| (*seq, format!("c{seq}"))).collect()
    }

    #[test]
    fn each_number_is_reported_once_and_late_commits_below_the_highest_are_found() {
        let mut cursor = Cursor {
            floor: Some(0),
            ..Cursor::default()
        };
        let t0 = Instant::now();
        assert_eq!(cursor.advance(t0, rows(&[1, 3])), ["c1", "c3"]);
        // 2 was taken before 3 and commits later; 1 and 3 come again and are not news.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(cursor.advance(t1, rows(&[1, 2, 3])), ["c2"]);
        assert_eq!(cursor.floor, Some(0), "still within the overlap");
        // OVERLAP after the first read, its highest number becomes the floor.
        let t2 = t0 + OVERLAP;
        assert!(
            cursor
                .advance(t2, rows(&[1, 2, 3, 4]))
                .contains(&"c4".to_owned())
        );
        assert_eq!(cursor.floor, Some(3));
        assert_eq!(cursor.seen.iter().copied().collect::<Vec<_>>(), [4]);
        assert!(cursor.advance(t2, rows(&[4])).is_empty());
    }

    #[test]
    fn the_floor_never_passes_what_a_read_had_not_yet_seen() {
        let mut cursor = Cursor {
            floor: Some(10),
            ..Cursor::default()
        };
        let t0 = Instant::now();
        assert!(cursor.advance(t0, Vec::new()).is_empty());
        // Long after: the floor may rise to what the first read had seen (10), no higher.
        let later = t0 + OVERLAP * 3;
        assert_eq!(cursor.advance(later, rows(&[11, 12])), ["c11", "c12"]);
        assert_eq!(cursor.floor, Some(10));
    }
}
