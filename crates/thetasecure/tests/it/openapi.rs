//! The served OpenAPI document is valid OpenAPI 3.1 as an independent validator sees it
//! (`openapi-spec-validator`, the checker SDK generators' users run), not just as utoipa
//! wrote it. `.ci/run` installs the validator and names it in `THETASECURE_OPENAPI_VALIDATOR`.

use std::process::Command;

use crate::support::*;

const VALIDATOR_ENV: &str = "THETASECURE_OPENAPI_VALIDATOR";

/// The validator's executable, or `None` (with a printed reason) when it is not set up;
/// with `CI=true` that fails instead, so CI cannot skip the check.
fn validator() -> Option<String> {
    let Some(path) = std::env::var(VALIDATOR_ENV)
        .ok()
        .filter(|path| !path.is_empty())
    else {
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!(
                "{VALIDATOR_ENV} is unset but CI=true: the OpenAPI document must be validated in CI"
            );
        }
        eprintln!(
            "skipping OpenAPI validation: {VALIDATOR_ENV} is unset (name an `openapi-spec-validator` executable; .ci/run installs one)"
        );
        return None;
    };
    Some(path)
}

#[tokio::test]
async fn the_served_document_passes_openapi_spec_validator() {
    let Some(validator) = validator() else {
        return;
    };
    let Some(server) = TestServer::start(Engine::Sqlite).await else {
        return;
    };
    let document = serde_json::to_vec(&server.openapi_document().await).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &document).unwrap();

    let output = Command::new(&validator)
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .arg(&file)
        .output()
        .unwrap_or_else(|err| panic!("run {VALIDATOR_ENV}={validator}: {err}"));
    assert!(
        output.status.success(),
        "openapi-spec-validator rejects /api/v1/openapi.json ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}
