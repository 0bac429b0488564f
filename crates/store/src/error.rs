use std::sync::Arc;

/// What caused an error, kept for the log line that reports it (cheap to clone).
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong in the store, in terms the layers above can act on. Failures keep
/// their cause, so the one place that reports them (the 500/503 response, a background
/// task's warning) logs the whole chain.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or state rule refused the write; the text says which, for the caller.
    #[error("conflict: {0}")]
    Conflict(String),
    /// SQLite's busy timeout ran out; retry later (503 + Retry-After).
    #[error("database busy")]
    Busy,
    /// The database cannot be reached.
    #[error("database unavailable: {what}")]
    Unavailable {
        what: String,
        #[source]
        cause: Option<Cause>,
    },
    /// Anything else the database reported, or a stored value that cannot be read.
    #[error("database error: {what}")]
    Backend {
        what: String,
        #[source]
        cause: Option<Cause>,
    },
}

impl StoreError {
    pub(crate) fn unavailable(what: impl Into<String>) -> Self {
        Self::Unavailable {
            what: what.into(),
            cause: None,
        }
    }

    pub(crate) fn backend(what: impl Into<String>) -> Self {
        Self::Backend {
            what: what.into(),
            cause: None,
        }
    }

    pub(crate) fn unavailable_because(
        what: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unavailable {
            what: what.into(),
            cause: Some(Arc::new(cause)),
        }
    }

    pub(crate) fn backend_because(
        what: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            what: what.into(),
            cause: Some(Arc::new(cause)),
        }
    }
}

/// Equal when of the same kind (and, for a conflict, the same reason); causes are not
/// compared. For tests and for callers matching outcomes.
impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Conflict(a), Self::Conflict(b)) => a == b,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for StoreError {}
