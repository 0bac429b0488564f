//! End-user password hashing: Argon2id with the crate's recommended parameters. Only for
//! people's passwords; machine secrets use the keyed hash in `thetasecure_core::secret`.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use thetasecure_core::random;

pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &random::bytes::<16>())
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify(password: &str, phc: &str) -> bool {
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
    #[test]
    fn hash_is_argon2id_and_verifies() {
        let phc = super::hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery", &phc));
        assert!(!super::verify("wrong", &phc));
        assert!(super::is_production_hash(&phc));
    }

    #[test]
    fn a_weaker_or_other_hash_is_not_a_production_hash() {
        use argon2::password_hash::PasswordHasher;
        let salt = thetasecure_core::random::bytes::<16>();
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
            assert!(!super::is_production_hash(&phc), "{phc}");
        }
        assert!(!super::is_production_hash("not a hash"));
    }
}
