//! Every operation's future (and the sub-task stream) is `'static + Send`:
//! spawned on the runtime after the client handle is gone.

use std::future::poll_fn;
use std::pin::pin;

use iotda_batchtask::{Client, Credentials, Error, Stream, types};
use iotda_batchtask_emulator::{
    DEMO_CONFIRM_TASK_ID, DEMO_DEVICE_COUNT, DEMO_FINISHED_TASK_ID, DEMO_PARTIAL_TASK_ID, DEMO_PROJECT_ID,
    DEMO_TASK_ID, Emulator, EmulatorConfig, Seed,
};

/// Hands out the walk: the stream borrows nothing from `client`.
fn walk(client: &Client) -> impl Stream<Item = Result<types::TaskDetail, Error>> + Send + 'static {
    client.show_batch_task(DEMO_TASK_ID).limit(50).sub_tasks()
}

/// Counts a stream's items with the re-exported `Stream` trait alone.
async fn count<S: Stream<Item = Result<types::TaskDetail, Error>>>(stream: S) -> Result<usize, Error> {
    let mut stream = pin!(stream);
    let mut n = 0;
    while let Some(item) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        item?;
        n += 1;
    }
    Ok(n)
}

#[tokio::test]
async fn every_operation_runs_in_a_spawned_task() {
    let emulator = Emulator::start(EmulatorConfig::new().seed(Seed::demo()).token("t"))
        .await
        .unwrap();
    let client = Client::builder(emulator.base_url())
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::token("t"))
        .build()
        .unwrap();

    let walk = tokio::spawn(count(walk(&client)));
    assert_eq!(walk.await.unwrap().unwrap(), DEMO_DEVICE_COUNT);

    let show = tokio::spawn(client.show_batch_task(DEMO_TASK_ID).limit(1).send());
    let stop = tokio::spawn(client.stop_batch_task(DEMO_TASK_ID).target("dev-0001").send());
    let bulk = tokio::spawn(
        client
            .stop_batch_task(DEMO_TASK_ID)
            .targets(["dev-0002", "dev-0003"])
            .concurrency(2)
            .send(),
    );
    // Built now, sent last (it would stop the devices above): the owned
    // builder outlives the client handle too.
    let all = client.stop_batch_task(DEMO_TASK_ID).all();
    drop(client);
    assert_eq!(show.await.unwrap().unwrap().sub_tasks().len(), 1);
    assert!(stop.await.unwrap().unwrap().all_succeeded());
    assert_eq!(bulk.await.unwrap().unwrap().succeeded().count(), 2);
    assert!(tokio::spawn(all.send()).await.unwrap().unwrap().succeeded().count() > 0);
}

/// The rest of the rollout loop, each spawned the same way: list (a page and
/// the stream of every task), retry and confirm (single and bulk), create,
/// delete.
#[tokio::test]
async fn every_operation_of_the_loop_runs_in_a_spawned_task() {
    use iotda_batchtask::types::TaskType;

    let emulator = Emulator::start(EmulatorConfig::new().seed(Seed::demo()).token("t"))
        .await
        .unwrap();
    let client = Client::builder(emulator.base_url())
        .project_id(DEMO_PROJECT_ID)
        .credentials(Credentials::token("t"))
        .build()
        .unwrap();
    let tasks = |client: &Client| client.list_batch_tasks(TaskType::FirmwareUpgrade).tasks();

    let page = tokio::spawn(client.list_batch_tasks(TaskType::FirmwareUpgrade).limit(1).send());
    let every = tokio::spawn(async move {
        let mut stream = pin!(tasks(&client));
        let mut n = 0;
        while let Some(task) = poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
            task?;
            n += 1;
        }
        Ok::<_, Error>((n, client))
    });
    assert_eq!(page.await.unwrap().unwrap().tasks().len(), 1);
    let (listed, client) = every.await.unwrap().unwrap();
    assert!(listed >= 3, "{listed}");

    let retry = tokio::spawn(client.retry_batch_task(DEMO_PARTIAL_TASK_ID).target("dev-0009").send());
    let retry_bulk = tokio::spawn(
        client
            .retry_batch_task(DEMO_PARTIAL_TASK_ID)
            .targets(["dev-0007", "dev-0010"])
            .send(),
    );
    let confirm = tokio::spawn(
        client
            .confirm_batch_task(DEMO_CONFIRM_TASK_ID)
            .target("dev-0001")
            .send(),
    );
    let confirm_bulk = tokio::spawn(
        client
            .confirm_batch_task(DEMO_CONFIRM_TASK_ID)
            .targets(["dev-0002", "dev-0003"])
            .send(),
    );
    let create = tokio::spawn(
        client
            .create_batch_task("spawned", TaskType::FirmwareUpgrade)
            .targets(["dev-0100"])
            .send(),
    );
    let delete = tokio::spawn(client.delete_batch_task(DEMO_FINISHED_TASK_ID).send());
    drop(client);
    assert!(retry.await.unwrap().unwrap().all_succeeded());
    assert_eq!(retry_bulk.await.unwrap().unwrap().succeeded().count(), 2);
    assert!(confirm.await.unwrap().unwrap().all_succeeded());
    assert_eq!(confirm_bulk.await.unwrap().unwrap().succeeded().count(), 2);
    assert!(create.await.unwrap().unwrap().is_created());
    assert!(delete.await.unwrap().unwrap().is_deleted());
}
