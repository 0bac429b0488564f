//! The real `thetasecure` binary started on a random port against a fresh SQLite file or
//! PostgreSQL schema, for the cases that need a process of their own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thetasecure_store::testing::TestDatabase;

use super::{ADMIN_PASSWORD, ADMIN_SECRET, Api, Engine, SYNC_SECRET};

/// Where a server keeps its state; outlives restarts of the process.
pub struct Place {
    pub database: TestDatabase,
    pub data_dir: tempfile::TempDir,
}

impl Place {
    pub async fn new(engine: Engine) -> Option<Place> {
        let database = TestDatabase::new(engine).await?;
        let data_dir = tempfile::tempdir().expect("temp dir");
        Some(Place { database, data_dir })
    }

    /// A `thetasecure` command on this place's store and data directory.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_thetasecure"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("THETASECURE_DATA_DIR", self.data_dir.path())
            .env("THETASECURE_DATABASE_URL", self.database.url())
            // Debug for our crates and sqlx, so the no-secrets-in-logs test sees everything.
            .env("THETASECURE_LOG_LEVEL", "info,thetasecure=debug,thetasecure_web=debug,thetasecure_app=debug,thetasecure_store=debug,sqlx=debug");
        command
    }
}

/// A running server process; killed (SIGKILL) when dropped.
pub struct TestServer {
    pub place: Arc<Place>,
    api: Api,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    /// A server with known bootstrap secrets on a fresh store.
    pub async fn start(engine: Engine) -> Option<TestServer> {
        let place = Arc::new(Place::new(engine).await?);
        Some(Self::start_on(place, true).await)
    }

    /// Starts the binary on `place`; `known_secrets` supplies the bootstrap variables.
    pub async fn start_on(place: Arc<Place>, known_secrets: bool) -> TestServer {
        Self::start_with(place, known_secrets, &[]).await
    }

    pub async fn start_with(
        place: Arc<Place>,
        known_secrets: bool,
        extra_env: &[(&str, &str)],
    ) -> TestServer {
        let mut command = place.command();
        command
            .arg("serve")
            .env("THETASECURE_LISTEN", "127.0.0.1:0");
        if known_secrets {
            command
                .env("THETASECURE_BOOTSTRAP_ADMIN_CLIENT_SECRET", ADMIN_SECRET)
                .env("THETASECURE_BOOTSTRAP_SYNC_CLIENT_SECRET", SYNC_SECRET)
                .env("THETASECURE_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD);
        }
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start thetasecure");
        let stdout = capture(child.stdout.take().expect("stdout"));
        let stderr = capture(child.stderr.take().expect("stderr"));
        let mut base = None;
        for _ in 0..600 {
            if let Some(line) = stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.starts_with("thetasecure listening on "))
            {
                base = Some(
                    line.trim_start_matches("thetasecure listening on ")
                        .to_owned(),
                );
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "server exited with {status}: {}",
                    stderr.lock().unwrap().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let base = base.unwrap_or_else(|| {
            panic!(
                "server did not start: {}",
                stderr.lock().unwrap().join("\n")
            )
        });
        TestServer {
            place,
            api: Api::new(base),
            child,
            stdout,
            stderr,
        }
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(mut self) -> Arc<Place> {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
        self.place.clone()
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not stop after SIGTERM");
    }
}

impl std::ops::Deref for TestServer {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn capture(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// Runs the CLI against `place`, returning (success, stdout, stderr).
pub fn cli(place: &Place, args: &[&str]) -> (bool, String, String) {
    let output = place
        .command()
        .args(args)
        .output()
        .expect("run thetasecure");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
