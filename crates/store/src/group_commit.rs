//! Group commit. A client create spent most of its time in what every commit pays
//! whatever it holds: on SQLite the WAL sync and the WAL frames of a dozen touched pages,
//! on PostgreSQL the wait for its WAL flush. Writes queued while a group commits
//! therefore wait for the next group and share its transaction; each is answered only
//! after that transaction has committed, so a success is still durable.
//!
//! A failed write must leave nothing behind, and the others must stand. A savepoint per
//! write would do that, but SQLite's FTS5 writes out its pending rows as a new segment at
//! every savepoint. Instead a write that fails rolls back its whole group, and then every
//! write of that group runs again in a transaction of its own. Writes fail rarely (a
//! duplicate client id), so the replay costs little.
//!
//! Client creates and, on PostgreSQL, code redemptions and refresh-token rotations
//! commit this way. A write answers its caller a count (a compare-and-set's rows
//! changed), given only once its group has committed.

use std::future::Future;
use std::ops::DerefMut;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::StoreError;

/// The most writes one group takes; the rest wait for the next.
const GROUP_MAX: usize = 64;

pub(crate) type WriteFuture<'a> =
    Pin<Box<dyn Future<Output = Result<u64, StoreError>> + Send + 'a>>;

/// A write that can join a group commit, on connection type `C`. It may run twice (see
/// above), each time in a transaction that is rolled back if any write in it fails.
pub(crate) trait GroupWrite<C>: Send + Sync {
    fn write<'a>(&'a self, conn: &'a mut C) -> WriteFuture<'a>;
}

/// How an engine begins and commits the write transactions that groups run in.
pub(crate) trait WriteTransactions: Send + Sync + 'static {
    type Connection: Send + 'static;
    type Tx: DerefMut<Target = Self::Connection> + Send;

    fn begin(&self) -> impl Future<Output = Result<Self::Tx, StoreError>> + Send;
    fn commit(tx: Self::Tx) -> impl Future<Output = Result<(), StoreError>> + Send;
}

struct QueuedWrite<C> {
    write: Box<dyn GroupWrite<C>>,
    done: oneshot::Sender<Result<u64, StoreError>>,
}

/// The queue in front of the group committers.
pub(crate) struct GroupCommits<C> {
    queue: mpsc::Sender<QueuedWrite<C>>,
}

impl<C> Clone for GroupCommits<C> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<C: Send + 'static> GroupCommits<C> {
    /// Starts `committers` tasks that commit groups side by side; they run until every
    /// handle is dropped.
    pub(crate) fn start<T>(transactions: T, committers: usize) -> Self
    where
        T: WriteTransactions<Connection = C>,
    {
        let (queue, receiver) = mpsc::channel(GROUP_MAX);
        let receiver = Arc::new(Mutex::new(receiver));
        let transactions = Arc::new(transactions);
        for _ in 0..committers {
            tokio::spawn(commit_groups(transactions.clone(), receiver.clone()));
        }
        Self { queue }
    }

    /// Runs `write` in the next group and answers what it answered once that group has
    /// committed: a success is durable, and a failure has left nothing of this write
    /// behind.
    pub(crate) async fn write(&self, write: Box<dyn GroupWrite<C>>) -> Result<u64, StoreError> {
        let stopped = || StoreError::unavailable("the store is shutting down");
        let (done, outcome) = oneshot::channel();
        self.queue
            .send(QueuedWrite { write, done })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

async fn commit_groups<T: WriteTransactions>(
    transactions: Arc<T>,
    receiver: Arc<Mutex<mpsc::Receiver<QueuedWrite<T::Connection>>>>,
) {
    let mut group = Vec::with_capacity(GROUP_MAX);
    loop {
        // One committer gathers while the others commit what they gathered.
        let received = receiver.lock().await.recv_many(&mut group, GROUP_MAX).await;
        if received == 0 {
            return;
        }
        let (writes, waiters): (Vec<_>, Vec<_>) = group
            .drain(..)
            .map(|queued| (queued.write, queued.done))
            .unzip();
        let outcomes = match commit_together(&*transactions, &writes).await {
            Ok(answers) => answers.into_iter().map(Ok).collect(),
            Err(Failure::OfAWrite) => commit_each(&*transactions, &writes).await,
            Err(Failure::OfTheGroup(failure)) => vec![Err(failure); writes.len()],
        };
        for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
            // The caller may have gone (its request was dropped); its write stands.
            let _ = waiter.send(outcome);
        }
    }
}

enum Failure {
    /// A write failed, and the group was rolled back.
    OfAWrite,
    /// The transaction could not begin or commit: every write gets this.
    OfTheGroup(StoreError),
}

async fn commit_together<T: WriteTransactions>(
    transactions: &T,
    writes: &[Box<dyn GroupWrite<T::Connection>>],
) -> Result<Vec<u64>, Failure> {
    let mut tx = transactions.begin().await.map_err(Failure::OfTheGroup)?;
    let mut answers = Vec::with_capacity(writes.len());
    for write in writes {
        // Dropping `tx` rolls the group back.
        answers.push(write.write(&mut tx).await.map_err(|_| Failure::OfAWrite)?);
    }
    T::commit(tx).await.map_err(Failure::OfTheGroup)?;
    Ok(answers)
}

async fn commit_each<T: WriteTransactions>(
    transactions: &T,
    writes: &[Box<dyn GroupWrite<T::Connection>>],
) -> Vec<Result<u64, StoreError>> {
    let mut outcomes = Vec::with_capacity(writes.len());
    for write in writes {
        let outcome = async {
            let mut tx = transactions.begin().await?;
            let answer = write.write(&mut tx).await?;
            T::commit(tx).await?;
            Ok(answer)
        };
        outcomes.push(outcome.await);
    }
    outcomes
}
