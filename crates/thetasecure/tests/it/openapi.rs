//! The served OpenAPI document is valid OpenAPI 3.1 as an independent validator sees it
//! (`openapi-spec-validator`, the checker SDK generators' users run), not just as utoipa
//! wrote it. `.ci/run` installs the validator and names it in `THETASECURE_OPENAPI_VALIDATOR`.

use std::process::Command;

use crate::support::*;

const VALIDATOR_ENV: &str = "THETASECURE_OPENAPI_VALIDATOR";

/// The validator's executable (`.ci/run` installs one); see `required_in_ci`.
fn validator() -> Option<String> {
    thetasecure_store::testing::required_in_ci(VALIDATOR_ENV, "OpenAPI validation")
}

#[tokio::test]
async fn the_served_document_passes_openapi_spec_validator() {
    let Some(validator) = validator() else {
        return;
    };
    let Some(server) = TestApp::start(Engine::Sqlite).await else {
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
