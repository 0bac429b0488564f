use std::fmt;

/// What can go wrong in the store, in terms the layers above can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    NotFound,
    /// A uniqueness or state rule refused the write; the text says which, for the caller.
    Conflict(String),
    /// SQLite's busy timeout ran out; retry later (503 + Retry-After).
    Busy,
    /// The database cannot be reached.
    Unavailable(String),
    /// Anything else the database reported.
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("not found"),
            Self::Conflict(why) => write!(f, "conflict: {why}"),
            Self::Busy => f.write_str("database busy"),
            Self::Unavailable(why) => write!(f, "database unavailable: {why}"),
            Self::Backend(why) => write!(f, "database error: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}
