//! End-user password hashing: Argon2id with the crate's recommended parameters (19 MiB,
//! two passes). Only for people's passwords; machine secrets use the keyed hash in
//! `thetasecure_core::secret`.
//!
//! A hash takes tens of milliseconds of CPU and 19 MiB, so hashes run on a pool of
//! their own, never on the async workers, at most one per core at a time and at a
//! lower scheduling priority: a flood of sign-ins or user creations waits its turn
//! instead of starving token requests or taking memory without bound.

use std::sync::{Arc, Mutex, mpsc};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use thetasecure_core::random;
use tokio::sync::oneshot;

use crate::AdminError;
use crate::error::InternalFailure;

/// How much lower than the request workers the hashing threads run (a nice value).
/// Under a sign-in flood the token path then keeps its core and its latency, and the
/// hashes take whatever is left; with nothing else to do they run at full speed.
pub const HASHING_NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A pool of one thread per core that runs the hashes, at [`HASHING_NICENESS`]. Work
/// beyond the pool waits in its queue, so at most one hash per core is in memory.
pub struct PasswordHashing {
    jobs: mpsc::Sender<Job>,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_threads(cores)
    }
}

impl PasswordHashing {
    /// A pool of `threads` hashing threads; they end when the pool is dropped.
    pub fn with_threads(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let next = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self { jobs }
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: String) -> Result<String, AdminError> {
        self.run(move || hash(&password))
            .await?
            .map_err(|e| AdminError::Internal(Box::new(InternalFailure(e))))
    }

    /// Whether `password` matches `phc`. A hash that does not parse matches nothing.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, AdminError> {
        self.run(move || verify(&password, &phc)).await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AdminError> {
        let (done, result) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                // A request dropped while queued (the client went away) costs no hash.
                if !done.is_closed() {
                    let _ = done.send(work());
                }
            }))
            .map_err(|_| pool_gone())?;
        result.await.map_err(|_| pool_gone())
    }
}

fn pool_gone() -> AdminError {
    AdminError::Internal(Box::new(InternalFailure(
        "the password hashing threads have stopped".into(),
    )))
}

/// Raising one's own nice value needs no privilege. Elsewhere than Linux (where a nice
/// value is per thread) the hashes keep the default priority.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASHING_NICENESS)
    {
        tracing::warn!(error = %e, "could not lower the password hashing threads' priority");
    }
}

/// One Argon2id hash with the production parameters, on the calling thread. Servers go
/// through [`PasswordHashing`]; this is for tools and test harnesses.
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &random::bytes::<16>())
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Whether `phc` is a hash as strong as [`hash`] makes: Argon2id, with at least its
/// memory, time and parallelism costs. Guards [`App::bootstrap_with_password_hash`], so
/// a stored hash never has weaker parameters than one made here.
///
/// [`App::bootstrap_with_password_hash`]: crate::App::bootstrap_with_password_hash
pub fn is_production_hash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let production = argon2::Params::default();
    parsed.algorithm == argon2::Algorithm::Argon2id.ident()
        && params.m_cost() >= production.m_cost()
        && params.t_cost() >= production.t_cost()
        && params.p_cost() >= production.p_cost()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn hash_is_argon2id_and_verifies() {
        let hashing = PasswordHashing::default();
        let phc = hashing.hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(is_production_hash(&phc));
        assert!(
            hashing
                .verify("correct horse battery".into(), phc.clone())
                .await
                .unwrap()
        );
        assert!(!hashing.verify("wrong".into(), phc).await.unwrap());
        assert!(
            !hashing
                .verify("x".into(), "not a hash".into())
                .await
                .unwrap()
        );
    }

    /// However many hashes are asked for at once, no more run than there are turns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_there_are_cores() {
        let hashing = Arc::new(PasswordHashing::with_threads(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (hashing, running, most) = (hashing.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    hashing
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_below_the_request_workers_priority() {
        let hashing = PasswordHashing::with_threads(1);
        let here = rustix::process::getpriority_process(None).unwrap();
        let there = hashing
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(there, (here + HASHING_NICENESS).min(19));
    }

    #[test]
    fn a_weaker_or_other_hash_is_not_a_production_hash() {
        let salt = random::bytes::<16>();
        let cheap = argon2::Params::new(8, 1, 1, None).unwrap();
        for algorithm in [argon2::Algorithm::Argon2id, argon2::Algorithm::Argon2i] {
            let params = if algorithm == argon2::Algorithm::Argon2id {
                cheap.clone()
            } else {
                argon2::Params::default()
            };
            let phc = argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
                .hash_password_with_salt(b"pw", &salt)
                .unwrap()
                .to_string();
            assert!(!is_production_hash(&phc), "{phc}");
        }
        assert!(!is_production_hash("not a hash"));
    }
}
