//! The one place randomness comes from: the operating system's CSPRNG via aws-lc-rs.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// `N` bytes from the system CSPRNG. Failing to read it means the machine cannot do
/// cryptography at all, so the process aborts rather than continue with weak values.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if SystemRandom::new().fill(&mut buf).is_err() {
        std::process::abort();
    }
    buf
}
