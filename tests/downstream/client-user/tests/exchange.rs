//! Values cross from the client build to the types-only crate and back.

use iotda_batchtask::{Client, Credentials};
use iotda_batchtask_emulator::{DEMO_PROJECT_ID, DEMO_TASK_ID, Emulator, EmulatorConfig};

#[tokio::test]
async fn client_results_feed_the_types_only_crate() {
    let emulator = Emulator::start(EmulatorConfig::new().token("t")).await.unwrap();
    let client = Client::builder(emulator.base_url())
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::token("t"))
        .build()
        .unwrap();
    // A task ID validated by the types-only crate is the client's type too.
    let task = types_user::task_id(DEMO_TASK_ID).unwrap();
    let summary = client_user::stop_and_summarize(&client, &task, &["dev-0001", "dev-9999"])
        .await
        .unwrap();
    assert_eq!(summary, (1, 1));
    let parsed = types_user::parse(r#"{"targets":[{"target":"a","status":"success"}]}"#).unwrap();
    assert_eq!(types_user::summarize(&parsed), (1, 0));
}
