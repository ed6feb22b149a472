//! The batch-task family beside Stop and Show, on the I/O-free service:
//! ListBatchTasks, RetryBatchTask, ConfirmBatchTask, CreateBatchTask and
//! DeleteBatchTask with Huawei's state rules and refusals, `Stopping` as a
//! transient state, the journal, fault rules and admin names of the new
//! operations, and the demo seed's operator loop.
//!
//! Run with `cargo test -p iotda-batchtask-emulator --test it state_rules`.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Method, StatusCode};
use iotda_batchtask_emulator::{
    DEMO_CONFIRM_TASK_ID, DEMO_CREATE_DEVICES_TASK_ID, DEMO_FINISHED_TASK_ID, DEMO_PARTIAL_TASK_ID, DEMO_PROJECT_ID,
    DEMO_TASK_ID, Emulator, EmulatorConfig, Fault, Operation, Seed, SeedTask, Service, TaskDetailStatus, TaskStatus,
    TaskType,
};
use serde_json::{Value, json};

const P: &str = DEMO_PROJECT_ID;

struct Answer {
    status: u16,
    json: Value,
}

fn demo() -> Service {
    Service::new(&EmulatorConfig::new().auth_enabled(false)).expect("config")
}

fn with(config: EmulatorConfig) -> Service {
    Service::new(&config.auth_enabled(false)).expect("config")
}

fn call(service: &Service, method: Method, path: &str, body: Option<&str>) -> Answer {
    let mut builder = http::Request::builder().method(method).uri(path);
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let request = builder
        .body(Bytes::from(body.unwrap_or("").to_owned()))
        .expect("request");
    let response = service.respond(request);
    let status = response.status().as_u16();
    let json = if status == 204 {
        assert!(response.body().is_empty(), "a 204 has no body");
        Value::Null
    } else {
        serde_json::from_slice(response.body()).expect("JSON body")
    };
    Answer { status, json }
}

fn task_path(task: &str) -> String {
    format!("/v5/iot/{P}/batchtasks/{task}")
}

fn op(service: &Service, op: &str, task: &str, body: &str) -> Answer {
    call(service, Method::POST, &format!("{}/{op}", task_path(task)), Some(body))
}

fn list(service: &Service, query: &str) -> Answer {
    call(service, Method::GET, &format!("/v5/iot/{P}/batchtasks?{query}"), None)
}

fn show(service: &Service, task: &str) -> Answer {
    call(service, Method::GET, &task_path(task), None)
}

fn create(service: &Service, body: &Value) -> Answer {
    call(
        service,
        Method::POST,
        &format!("/v5/iot/{P}/batchtasks"),
        Some(&body.to_string()),
    )
}

fn delete(service: &Service, task: &str) -> Answer {
    call(service, Method::DELETE, &task_path(task), None)
}

/// Asserts an IoTDA error and returns its message.
fn refused(a: &Answer, status: u16, code: &str) -> String {
    assert_eq!(a.status, status, "{}", a.json);
    assert_eq!(a.json["error_code"], code, "{}", a.json);
    a.json["error_msg"].as_str().expect("error_msg").to_owned()
}

/// `(target, status, error_code)` of a per-target answer.
fn results(a: &Answer) -> Vec<(String, String, Option<String>)> {
    assert_eq!(a.status, 200, "{}", a.json);
    a.json["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            (
                t["target"].as_str().expect("target").to_owned(),
                t["status"].as_str().expect("status").to_owned(),
                t["error_code"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn ok(target: &str) -> (String, String, Option<String>) {
    (target.to_owned(), "success".to_owned(), None)
}

fn failed(target: &str, code: &str) -> (String, String, Option<String>) {
    (target.to_owned(), "failure".to_owned(), Some(code.to_owned()))
}

fn seed_task(
    task_id: &str,
    task_type: TaskType,
    status: TaskStatus,
    subtasks: &[(&str, TaskDetailStatus)],
) -> SeedTask {
    SeedTask {
        project_id: P.to_owned(),
        task_id: task_id.to_owned(),
        task_type,
        status,
        subtasks: subtasks
            .iter()
            .map(|(d, s)| ((*d).to_owned(), *s))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn status_of(service: &Service, task: &str, device: &str) -> TaskDetailStatus {
    service.task(P, task).expect("task").subtasks[device]
}

fn upgrade(task_name: &str, targets: &[&str]) -> Value {
    json!({"task_name": task_name, "task_type": "firmwareUpgrade", "targets": targets,
           "document": {"package_id": "32822e5744a45ede319d2c50"}})
}

// ------------------------------------------------------------------ retry

#[test]
fn retry_all_reruns_fail_failwaitretry_and_stopped_subtasks() {
    let s = with(
        EmulatorConfig::new().seed(
            Seed::new(vec![seed_task(
                "aaaa01",
                TaskType::SoftwareUpgrade,
                TaskStatus::PartialSuccess,
                &[
                    ("d1", TaskDetailStatus::Success),
                    ("d2", TaskDetailStatus::Fail),
                    ("d3", TaskDetailStatus::FailWaitRetry),
                    ("d4", TaskDetailStatus::Stopped),
                    ("d5", TaskDetailStatus::Success),
                ],
            )])
            .expect("seed"),
        ),
    );
    let a = op(&s, "retry", "aaaa01", "{}");
    assert_eq!(results(&a), [ok("d2"), ok("d3"), ok("d4")]);
    let task = s.task(P, "aaaa01").expect("task");
    assert_eq!(
        task.status,
        TaskStatus::Processing,
        "a task that re-runs anything runs again"
    );
    assert_eq!(task.count(TaskDetailStatus::Processing), 3);
    assert_eq!(task.count(TaskDetailStatus::Success), 2);
}

#[test]
fn targeted_retry_answers_per_target() {
    let s = demo();
    // dev-0001..06 Success, 07/08 Fail, 09/10 Stopped.
    let a = op(
        &s,
        "retry",
        DEMO_PARTIAL_TASK_ID,
        r#"{"targets":["dev-0007","dev-0001","dev-9999","dev-0009","dev-0007"]}"#,
    );
    assert_eq!(
        results(&a),
        [
            ok("dev-0007"),
            failed("dev-0001", "IOTDA.000006"),
            failed("dev-9999", "IOTDA.014219"),
            ok("dev-0009"),
        ]
    );
    assert_eq!(
        a.json["targets"][1]["error_msg"],
        "Invalid input. The sub-task of the target is Success and cannot be retried."
    );
    assert_eq!(
        status_of(&s, DEMO_PARTIAL_TASK_ID, "dev-0007"),
        TaskDetailStatus::Processing
    );
    assert_eq!(status_of(&s, DEMO_PARTIAL_TASK_ID, "dev-0008"), TaskDetailStatus::Fail);
    assert_eq!(
        status_of(&s, DEMO_PARTIAL_TASK_ID, "dev-0009"),
        TaskDetailStatus::Processing
    );
    assert_eq!(
        s.task(P, DEMO_PARTIAL_TASK_ID).expect("task").status,
        TaskStatus::Processing
    );
}

#[test]
fn retry_is_refused_while_the_task_is_success_stopped_stopping_waitting_or_initializing() {
    for status in [
        TaskStatus::Success,
        TaskStatus::Stopped,
        TaskStatus::Stopping,
        TaskStatus::Waitting,
        TaskStatus::Initializing,
    ] {
        let s = demo();
        s.set_task_status(P, DEMO_PARTIAL_TASK_ID, status).expect("task");
        let before = s.snapshot();
        let msg = refused(&op(&s, "retry", DEMO_PARTIAL_TASK_ID, "{}"), 400, "IOTDA.000006");
        assert_eq!(
            msg,
            format!("Invalid input. The task is {status} and cannot be retried.")
        );
        assert_eq!(s.snapshot(), before, "{status}: nothing changed");
    }
    // The demo's finished software upgrade (Success).
    let s = demo();
    refused(&op(&s, "retry", DEMO_FINISHED_TASK_ID, "{}"), 400, "IOTDA.000006");
    // Processing, Fail and PartialSuccess are accepted.
    for status in [TaskStatus::Processing, TaskStatus::Fail, TaskStatus::PartialSuccess] {
        let s = demo();
        s.set_task_status(P, DEMO_PARTIAL_TASK_ID, status).expect("task");
        assert_eq!(op(&s, "retry", DEMO_PARTIAL_TASK_ID, "{}").status, 200, "{status}");
    }
}

#[test]
fn retry_and_confirm_refuse_task_types_that_do_not_support_them() {
    let s = demo();
    let msg = refused(&op(&s, "retry", DEMO_CREATE_DEVICES_TASK_ID, "{}"), 400, "IOTDA.000006");
    assert_eq!(
        msg,
        "Invalid input. Only firmwareUpgrade and softwareUpgrade tasks can be retried (this task is createDevices)."
    );
    let msg = refused(
        &op(&s, "confirm", DEMO_CREATE_DEVICES_TASK_ID, "{}"),
        400,
        "IOTDA.000006",
    );
    assert!(
        msg.contains("firmwareUpgrade, softwareUpgrade and moduleUpgrade"),
        "{msg}"
    );

    // A module upgrade can be confirmed, but neither stopped nor retried.
    let module = Seed::new(vec![seed_task(
        "bbbb01",
        TaskType::ModuleUpgrade,
        TaskStatus::Processing,
        &[("d1", TaskDetailStatus::Waitting), ("d2", TaskDetailStatus::Fail)],
    )])
    .and_then(|seed| seed.with_need_confirm(P, "bbbb01"))
    .expect("seed");
    let s = with(EmulatorConfig::new().seed(module));
    refused(&op(&s, "stop", "bbbb01", "{}"), 400, "IOTDA.000006");
    refused(&op(&s, "retry", "bbbb01", "{}"), 400, "IOTDA.000006");
    assert_eq!(results(&op(&s, "confirm", "bbbb01", "{}")), [ok("d1")]);
}

#[test]
fn retry_confirm_and_delete_of_an_unknown_task_are_404_014200() {
    let s = demo();
    for a in [
        op(&s, "retry", "abcdef", "{}"),
        op(&s, "confirm", "abcdef", "{}"),
        delete(&s, "abcdef"),
    ] {
        refused(&a, 404, "IOTDA.014200");
    }
}

#[test]
fn retry_and_confirm_check_the_body_like_stop() {
    let s = demo();
    for name in ["retry", "confirm"] {
        let too_many: Vec<String> = (1..=101).map(|n| format!("dev-{n:04}")).collect();
        let body = json!({ "targets": too_many }).to_string();
        refused(&op(&s, name, DEMO_CONFIRM_TASK_ID, &body), 400, "IOTDA.000006");
        let msg = refused(
            &op(&s, name, DEMO_CONFIRM_TASK_ID, r#"{"targets":[]}"#),
            400,
            "IOTDA.000006",
        );
        assert!(msg.contains(&format!("send {{}} to {name} every sub-task")), "{msg}");
        refused(&op(&s, name, DEMO_CONFIRM_TASK_ID, "[1]"), 400, "IOTDA.000008");
        refused(
            &op(&s, name, DEMO_CONFIRM_TASK_ID, r#"{"targets":["a b"]}"#),
            400,
            "IOTDA.000006",
        );
    }
}

// ---------------------------------------------------------------- confirm

#[test]
fn confirm_dispatches_waitting_subtasks_of_a_need_confirm_task() {
    let s = demo();
    let a = op(
        &s,
        "confirm",
        DEMO_CONFIRM_TASK_ID,
        r#"{"targets":["dev-0001","dev-0002","dev-0404"]}"#,
    );
    assert_eq!(
        results(&a),
        [ok("dev-0001"), ok("dev-0002"), failed("dev-0404", "IOTDA.014219")]
    );
    assert_eq!(
        status_of(&s, DEMO_CONFIRM_TASK_ID, "dev-0001"),
        TaskDetailStatus::Processing
    );
    assert_eq!(
        status_of(&s, DEMO_CONFIRM_TASK_ID, "dev-0003"),
        TaskDetailStatus::Waitting
    );

    // A second confirm of a dispatched device is a per-target failure.
    let a = op(&s, "confirm", DEMO_CONFIRM_TASK_ID, r#"{"targets":["dev-0001"]}"#);
    assert_eq!(results(&a), [failed("dev-0001", "IOTDA.000006")]);
    assert_eq!(
        a.json["targets"][0]["error_msg"],
        "Invalid input. The sub-task of the target is Processing and cannot be confirmed."
    );

    // `{}` dispatches the other eight.
    let a = op(&s, "confirm", DEMO_CONFIRM_TASK_ID, "{}");
    assert_eq!(results(&a).len(), 8);
    let task = s.task(P, DEMO_CONFIRM_TASK_ID).expect("task");
    assert_eq!(task.count(TaskDetailStatus::Processing), 10);
    assert!(task.need_confirm);
}

#[test]
fn confirm_of_a_waitting_task_makes_it_processing() {
    let seed = Seed::new(vec![seed_task(
        "cccc01",
        TaskType::SoftwareUpgrade,
        TaskStatus::Waitting,
        &[("d1", TaskDetailStatus::Waitting)],
    )])
    .and_then(|seed| seed.with_need_confirm(P, "cccc01"))
    .expect("seed");
    let s = with(EmulatorConfig::new().seed(seed));
    assert_eq!(results(&op(&s, "confirm", "cccc01", "{}")), [ok("d1")]);
    assert_eq!(s.task(P, "cccc01").expect("task").status, TaskStatus::Processing);
}

#[test]
fn confirm_is_refused_for_finished_or_stopping_tasks_and_tasks_without_need_confirm() {
    for status in [
        TaskStatus::Success,
        TaskStatus::Fail,
        TaskStatus::PartialSuccess,
        TaskStatus::Stopped,
        TaskStatus::Stopping,
    ] {
        let s = demo();
        s.set_task_status(P, DEMO_CONFIRM_TASK_ID, status).expect("task");
        let msg = refused(&op(&s, "confirm", DEMO_CONFIRM_TASK_ID, "{}"), 400, "IOTDA.000006");
        assert_eq!(
            msg,
            format!("Invalid input. The task is {status} and cannot be confirmed.")
        );
    }
    let s = demo();
    let before = s.snapshot();
    let msg = refused(&op(&s, "confirm", DEMO_TASK_ID, "{}"), 400, "IOTDA.000006");
    assert!(msg.contains("need_confirm"), "{msg}");
    assert_eq!(s.snapshot(), before);
}

// --------------------------------------------------------------- stopping

#[test]
fn with_stopping_reads_a_stopped_task_passes_through_stopping() {
    let s = with(EmulatorConfig::new().stopping_reads(2));
    assert_eq!(op(&s, "stop", DEMO_TASK_ID, "{}").status, 200);
    assert_eq!(s.task(P, DEMO_TASK_ID).expect("task").status, TaskStatus::Stopping);
    // Stopping refuses stop, retry and confirm, and delete.
    refused(&op(&s, "stop", DEMO_TASK_ID, "{}"), 400, "IOTDA.000006");
    refused(&op(&s, "retry", DEMO_TASK_ID, "{}"), 400, "IOTDA.000006");
    refused(&delete(&s, DEMO_TASK_ID), 403, "IOTDA.014221");
    // Two reads report Stopping (a show, then a list page listing it) ...
    assert_eq!(show(&s, DEMO_TASK_ID).json["batchtask"]["status"], "Stopping");
    let page = list(&s, "task_type=firmwareUpgrade&status=Stopping");
    assert_eq!(page.json["batchtasks"][0]["task_id"], DEMO_TASK_ID);
    // ... then the task is Stopped.
    assert_eq!(show(&s, DEMO_TASK_ID).json["batchtask"]["status"], "Stopped");
    assert_eq!(s.task(P, DEMO_TASK_ID).expect("task").status, TaskStatus::Stopped);
}

#[test]
fn a_partial_stop_never_passes_through_stopping() {
    let s = with(EmulatorConfig::new().stopping_reads(3));
    assert_eq!(op(&s, "stop", DEMO_TASK_ID, r#"{"targets":["dev-0001"]}"#).status, 200);
    assert_eq!(s.task(P, DEMO_TASK_ID).expect("task").status, TaskStatus::Processing);
}

#[test]
fn by_default_a_stop_settles_at_once() {
    let s = demo();
    assert_eq!(op(&s, "stop", DEMO_TASK_ID, "{}").status, 200);
    assert_eq!(s.task(P, DEMO_TASK_ID).expect("task").status, TaskStatus::Stopped);
}

// ------------------------------------------------------------------- list

#[test]
fn list_filters_by_type_and_status_newest_first_in_the_task_model() {
    let s = demo();
    let a = list(&s, "task_type=firmwareUpgrade");
    assert_eq!(a.status, 200, "{}", a.json);
    let ids: Vec<&str> = a.json["batchtasks"]
        .as_array()
        .expect("batchtasks")
        .iter()
        .map(|t| t["task_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [DEMO_PARTIAL_TASK_ID, DEMO_CONFIRM_TASK_ID, DEMO_TASK_ID]);
    assert_eq!(a.json["page"]["count"], 3);
    let confirm = &a.json["batchtasks"][1];
    assert_eq!(confirm["need_confirm"], true);
    assert_eq!(confirm["status"], "Processing");
    assert_eq!(confirm["task_progress"]["waitting"], 10);
    assert_eq!(confirm["task_progress"]["total"], 10);
    assert!(a.json["batchtasks"][2].get("need_confirm").is_none());

    let a = list(&s, "task_type=firmwareUpgrade&status=PartialSuccess");
    assert_eq!(a.json["batchtasks"].as_array().expect("list").len(), 1);
    let a = list(&s, "task_type=softwareUpgrade");
    assert_eq!(a.json["batchtasks"][0]["task_id"], DEMO_FINISHED_TASK_ID);
    let a = list(&s, "task_type=deleteDevices");
    assert_eq!(a.json, json!({"batchtasks": [], "page": {"count": 0}}));
}

#[test]
fn list_pages_by_limit_offset_and_marker() {
    let tasks = (1..=12)
        .map(|n| seed_task(&format!("{n:06x}"), TaskType::FirmwareUpgrade, TaskStatus::Success, &[]))
        .collect();
    let s = with(EmulatorConfig::new().seed(Seed::new(tasks).expect("seed")));
    let ids = |a: &Answer| -> Vec<String> {
        a.json["batchtasks"]
            .as_array()
            .expect("batchtasks")
            .iter()
            .map(|t| t["task_id"].as_str().expect("id").to_owned())
            .collect()
    };
    let first = list(&s, "task_type=firmwareUpgrade&limit=5");
    assert_eq!(ids(&first), ["00000c", "00000b", "00000a", "000009", "000008"]);
    assert_eq!(first.json["page"]["count"], 12);
    let marker = first.json["page"]["marker"].as_str().expect("marker").to_owned();
    assert_eq!(marker.len(), 24);
    let second = list(&s, &format!("task_type=firmwareUpgrade&limit=5&marker={marker}"));
    assert_eq!(ids(&second), ["000007", "000006", "000005", "000004", "000003"]);
    let by_offset = list(&s, "task_type=firmwareUpgrade&limit=5&offset=5");
    assert_eq!(ids(&by_offset), ids(&second));
    let default = list(&s, "task_type=firmwareUpgrade");
    assert_eq!(ids(&default).len(), 10, "the spec's default limit");
}

#[test]
fn list_refuses_a_missing_or_unknown_filter_and_out_of_range_paging() {
    let s = demo();
    let msg = refused(&list(&s, ""), 400, "IOTDA.000006");
    assert!(msg.contains("task_type is required"), "{msg}");
    refused(&list(&s, "task_type=firmware"), 400, "IOTDA.000006");
    refused(
        &list(&s, "task_type=firmwareUpgrade&status=Running"),
        400,
        "IOTDA.000006",
    );
    refused(&list(&s, "task_type=firmwareUpgrade&app_id=a%20b"), 400, "IOTDA.000006");
    refused(&list(&s, "task_type=firmwareUpgrade&limit=51"), 400, "IOTDA.000017");
    refused(&list(&s, "task_type=firmwareUpgrade&limit=0"), 400, "IOTDA.000017");
    refused(&list(&s, "task_type=firmwareUpgrade&marker=xyz"), 400, "IOTDA.000018");
    refused(&list(&s, "task_type=firmwareUpgrade&offset=501"), 400, "IOTDA.000006");
    let a = list(&s, "task_type=firmwareUpgrade&limit=50&offset=500");
    assert_eq!(a.status, 200);
}

#[test]
fn list_filters_by_app_id_of_created_tasks() {
    let s = demo();
    let mut body = upgrade("in_space", &["dev-0001"]);
    body["app_id"] = json!("space-1");
    assert_eq!(create(&s, &body).status, 201);
    let a = list(&s, "task_type=firmwareUpgrade&app_id=space-1");
    assert_eq!(a.json["page"]["count"], 1);
    assert_eq!(a.json["batchtasks"][0]["task_name"], "in_space");
    let a = list(&s, "task_type=firmwareUpgrade&app_id=space-2");
    assert_eq!(a.json["page"]["count"], 0);
}

// ----------------------------------------------------------------- create

#[test]
fn create_answers_201_with_the_new_task_and_show_and_list_find_it() {
    let s = demo();
    let mut body = upgrade("BatchFirmwareUpgrade_1", &["dev-0001", "dev-0002", "dev-0003"]);
    body["task_policy"] = json!({"retry_count": 5, "retry_interval": 60, "schedule_time": "20151212T121212Z"});
    let a = create(&s, &body);
    assert_eq!(a.status, 201, "{}", a.json);
    let id = a.json["task_id"].as_str().expect("task_id").to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(a.json["task_name"], "BatchFirmwareUpgrade_1");
    assert_eq!(a.json["task_type"], "firmwareUpgrade");
    assert_eq!(a.json["status"], "Processing");
    assert_eq!(a.json["targets"], json!(["dev-0001", "dev-0002", "dev-0003"]));
    assert_eq!(a.json["document"], json!({"package_id": "32822e5744a45ede319d2c50"}));
    assert_eq!(a.json["task_policy"]["retry_count"], 5);
    assert_eq!(a.json["task_progress"]["processing"], 3);
    assert!(a.json.get("need_confirm").is_none());
    let task = s.task(P, &id).expect("created");
    assert_eq!(task.count(TaskDetailStatus::Processing), 3);

    assert_eq!(show(&s, &id).json["batchtask"]["task_name"], "BatchFirmwareUpgrade_1");
    let newest = list(&s, "task_type=firmwareUpgrade&limit=1");
    assert_eq!(
        newest.json["batchtasks"][0]["task_id"],
        id.as_str(),
        "the newest task comes first"
    );

    // Each create makes a new task: the call is not idempotent.
    let again = create(&s, &body);
    assert_eq!(again.status, 201);
    assert_ne!(again.json["task_id"], id.as_str());
}

#[test]
fn create_with_need_confirm_leaves_every_subtask_waitting_until_confirmed() {
    let s = demo();
    let mut body = upgrade("confirm_me", &["d1", "d2"]);
    body["need_confirm"] = json!(true);
    let a = create(&s, &body);
    assert_eq!(a.status, 201, "{}", a.json);
    assert_eq!(a.json["need_confirm"], true);
    let id = a.json["task_id"].as_str().expect("id").to_owned();
    let task = s.task(P, &id).expect("task");
    assert!(task.need_confirm);
    assert_eq!(task.count(TaskDetailStatus::Waitting), 2);
    assert_eq!(results(&op(&s, "confirm", &id, "{}")), [ok("d1"), ok("d2")]);
    assert_eq!(s.task(P, &id).expect("task").count(TaskDetailStatus::Processing), 2);
}

#[test]
fn create_refuses_an_eleventh_running_task_with_403_014206() {
    // The demo has three running tasks; seven more reach the limit of ten.
    let s = demo();
    for n in 0..7 {
        let a = create(&s, &upgrade(&format!("task_{n}"), &["dev-0001"]));
        assert_eq!(a.status, 201, "{n}: {}", a.json);
    }
    let before = s.snapshot();
    let a = create(&s, &upgrade("eleventh", &["dev-0001"]));
    let msg = refused(&a, 403, "IOTDA.014206");
    assert!(msg.contains("10 batch tasks running"), "{msg}");
    assert_eq!(s.snapshot(), before, "nothing was created");

    // Once one finishes, there is room again.
    s.set_task_status(P, DEMO_TASK_ID, TaskStatus::Success).expect("task");
    assert_eq!(create(&s, &upgrade("eleventh", &["dev-0001"])).status, 201);

    // The limit is configurable.
    let s = with(EmulatorConfig::new().max_running_tasks(3));
    refused(&create(&s, &upgrade("fourth", &["dev-0001"])), 403, "IOTDA.014206");
}

#[test]
fn create_stops_at_the_emulators_own_capacity() {
    // Tasks made by a filter finish at once, so only the capacity stops them.
    let s = demo();
    let body = json!({"task_name": "g", "task_type": "softwareUpgrade", "targets_filter": {"group_ids": ["g1"]}});
    let held = s.snapshot().tasks().len();
    for _ in held..iotda_batchtask_emulator::MAX_TASKS {
        assert_eq!(create(&s, &body).status, 201);
    }
    let msg = refused(&create(&s, &body), 403, "EMULATOR.FULL");
    assert!(msg.contains("at most 1000 tasks"), "{msg}");
    assert_eq!(delete(&s, DEMO_FINISHED_TASK_ID).status, 204);
    assert_eq!(create(&s, &body).status, 201, "room again after a delete");
}

#[test]
fn create_refuses_more_than_30000_targets() {
    let s = with(EmulatorConfig::new().max_running_tasks(100));
    let targets: Vec<String> = (1..=30_001).map(|n| format!("d{n}")).collect();
    let body = json!({"task_name": "big", "task_type": "firmwareUpgrade", "targets": targets});
    let msg = refused(&create(&s, &body), 400, "IOTDA.000006");
    assert_eq!(
        msg,
        "Invalid input. targets has 30001 items; a task has at most 30000 sub-tasks."
    );

    let targets: Vec<String> = (1..=30_000).map(|n| format!("d{n}")).collect();
    let body = json!({"task_name": "big", "task_type": "firmwareUpgrade", "targets": targets});
    let a = create(&s, &body);
    assert_eq!(a.status, 201);
    assert_eq!(a.json["task_progress"]["total"], 30_000);
}

#[test]
fn create_validates_the_body_against_the_spec_naming_the_field() {
    let s = demo();
    let base = upgrade("ok_name", &["dev-0001"]);
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        (
            "no name",
            json!({"task_type": "firmwareUpgrade", "targets": ["d1"]}),
            400,
            "IOTDA.000006",
            "task_name is required",
        ),
        (
            "bad name",
            json!({"task_name": "a b", "task_type": "firmwareUpgrade", "targets": ["d1"]}),
            400,
            "IOTDA.000006",
            "task_name must match",
        ),
        (
            "no type",
            json!({"task_name": "n", "targets": ["d1"]}),
            400,
            "IOTDA.000006",
            "task_type is required",
        ),
        (
            "bad type",
            json!({"task_name": "n", "task_type": "reboot", "targets": ["d1"]}),
            400,
            "IOTDA.000006",
            "task_type must be one of",
        ),
        (
            "no targets",
            json!({"task_name": "n", "task_type": "firmwareUpgrade"}),
            400,
            "IOTDA.000006",
            "targets is missing",
        ),
        (
            "bad target",
            json!({"task_name": "n", "task_type": "firmwareUpgrade", "targets": ["a b"]}),
            400,
            "IOTDA.000006",
            "targets[0]",
        ),
        (
            "repeat",
            json!({"task_name": "n", "task_type": "firmwareUpgrade", "targets": ["d1", "d1"]}),
            400,
            "IOTDA.000006",
            "names d1 more than once",
        ),
        (
            "bad app",
            json!({"task_name": "n", "task_type": "firmwareUpgrade", "targets": ["d1"], "app_id": "a b"}),
            400,
            "IOTDA.000006",
            "app_id must match",
        ),
        (
            "retry 6",
            json!({"task_name": "n", "task_type": "firmwareUpgrade", "targets": ["d1"], "task_policy": {"retry_count": 6, "retry_interval": 1}}),
            400,
            "IOTDA.000006",
            "task_policy.retry_count must be an integer from 1 to 5",
        ),
        (
            "interval 1441",
            json!({"task_name": "n", "task_type": "firmwareUpgrade", "targets": ["d1"], "task_policy": {"retry_count": 1, "retry_interval": 1441}}),
            400,
            "IOTDA.000006",
            "task_policy.retry_interval must be an integer from 0 to 1440",
        ),
        (
            "count alone",
            json!({"task_name": "n", "task_type": "firmwareUpgrade", "targets": ["d1"], "task_policy": {"retry_count": 1}}),
            400,
            "IOTDA.000006",
            "task_policy.retry_interval is required with retry_count",
        ),
        (
            "bad schedule",
            json!({"task_name": "n", "task_type": "firmwareUpgrade", "targets": ["d1"], "task_policy": {"schedule_time": "tomorrow"}}),
            400,
            "IOTDA.000006",
            "task_policy.schedule_time must match",
        ),
        (
            "bad mode",
            json!({"task_name": "n", "task_type": "firmwareUpgrade", "targets": ["d1"], "task_mode": "DIRECT"}),
            400,
            "IOTDA.000006",
            "task_mode must be one of GATEWAY",
        ),
        (
            "confirm on createDevices",
            json!({"task_name": "n", "task_type": "deleteDevices", "targets": ["d1"], "need_confirm": true}),
            400,
            "IOTDA.000006",
            "need_confirm applies to upgrade tasks only",
        ),
        (
            "ext info",
            json!({"task_name": "n", "task_type": "firmwareUpgrade", "targets": ["d1"], "task_ext_info": {"k": "x".repeat(600)}}),
            400,
            "IOTDA.000006",
            "task_ext_info is",
        ),
        (
            "not an object",
            json!(["x"]),
            400,
            "IOTDA.000008",
            "must be a JSON object",
        ),
    ];
    let before = s.snapshot();
    for (case, body, status, code, needle) in cases {
        let msg = refused(&create(&s, &body), status, code);
        assert!(msg.contains(needle), "{case}: {msg}");
    }
    let not_json = call(&s, Method::POST, &format!("/v5/iot/{P}/batchtasks"), Some("{"));
    refused(&not_json, 400, "IOTDA.000008");
    assert_eq!(s.snapshot(), before, "no refused create changed anything");
    assert_eq!(create(&s, &base).status, 201);
}

#[test]
fn create_with_a_filter_or_a_file_has_no_subtasks_and_is_success() {
    let s = demo();
    let body = json!({"task_name": "by_group", "task_type": "softwareUpgrade",
                      "targets_filter": {"group_ids": ["e495cf17-ff79-4294-8f64-4d367919d665"]}});
    let a = create(&s, &body);
    assert_eq!(a.status, 201, "{}", a.json);
    assert_eq!(a.json["status"], "Success");
    assert_eq!(
        a.json["targets_filter"]["group_ids"][0],
        "e495cf17-ff79-4294-8f64-4d367919d665"
    );
    let body = json!({"task_name": "from_file", "task_type": "createDevices", "document_source": "abc"});
    assert_eq!(create(&s, &body).status, 201);
}

// ----------------------------------------------------------------- delete

#[test]
fn delete_removes_a_finished_task_with_204() {
    for status in [
        TaskStatus::Success,
        TaskStatus::Fail,
        TaskStatus::PartialSuccess,
        TaskStatus::Stopped,
    ] {
        let s = demo();
        s.set_task_status(P, DEMO_TASK_ID, status).expect("task");
        let a = delete(&s, DEMO_TASK_ID);
        assert_eq!(a.status, 204, "{status}: {}", a.json);
        assert!(s.task(P, DEMO_TASK_ID).is_none());
        refused(&show(&s, DEMO_TASK_ID), 404, "IOTDA.014200");
        refused(&delete(&s, DEMO_TASK_ID), 404, "IOTDA.014200");
    }
    // The other tasks are untouched.
    let s = demo();
    assert_eq!(delete(&s, DEMO_FINISHED_TASK_ID).status, 204);
    assert!(s.task(P, DEMO_TASK_ID).is_some());
    assert_eq!(show(&s, DEMO_TASK_ID).status, 200);
}

#[test]
fn delete_of_a_running_task_is_403_014221() {
    for status in [
        TaskStatus::Initializing,
        TaskStatus::Waitting,
        TaskStatus::Processing,
        TaskStatus::Stopping,
    ] {
        let s = demo();
        s.set_task_status(P, DEMO_TASK_ID, status).expect("task");
        let msg = refused(&delete(&s, DEMO_TASK_ID), 403, "IOTDA.014221");
        assert!(msg.contains(&format!("The task is {status}")), "{msg}");
        assert!(s.task(P, DEMO_TASK_ID).is_some());
    }
}

// ------------------------------------------------------ the operator loop

#[test]
fn the_demo_seed_supports_the_operator_loop() {
    let s = demo();
    // list -> stop four devices -> stop all -> show -> retry the stopped ones -> show.
    let found = list(&s, "task_type=firmwareUpgrade&status=Processing");
    let ids: Vec<&str> = found.json["batchtasks"]
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["task_id"].as_str().expect("id"))
        .collect();
    assert!(ids.contains(&DEMO_TASK_ID), "{ids:?}");
    let four = r#"{"targets":["dev-0001","dev-0002","dev-0003","dev-0004"]}"#;
    assert_eq!(results(&op(&s, "stop", DEMO_TASK_ID, four)).len(), 4);
    let retried = results(&op(&s, "retry", DEMO_TASK_ID, four));
    assert_eq!(
        retried,
        [ok("dev-0001"), ok("dev-0002"), ok("dev-0003"), ok("dev-0004")]
    );
    assert_eq!(status_of(&s, DEMO_TASK_ID, "dev-0001"), TaskDetailStatus::Processing);
    // Confirm the need_confirm task, retry the partly failed one, delete the finished one.
    assert_eq!(results(&op(&s, "confirm", DEMO_CONFIRM_TASK_ID, "{}")).len(), 10);
    assert_eq!(results(&op(&s, "retry", DEMO_PARTIAL_TASK_ID, "{}")).len(), 4);
    assert_eq!(delete(&s, DEMO_FINISHED_TASK_ID).status, 204);
    // Stopping everything then leaves the task Stopped: retry is refused.
    assert_eq!(op(&s, "stop", DEMO_TASK_ID, "{}").status, 200);
    refused(&op(&s, "retry", DEMO_TASK_ID, "{}"), 400, "IOTDA.000006");
}

#[test]
fn a_seed_keeps_need_confirm_through_json_and_snapshots() {
    let demo_seed = Seed::demo();
    assert!(demo_seed.needs_confirm(P, DEMO_CONFIRM_TASK_ID));
    assert!(!demo_seed.needs_confirm(P, DEMO_TASK_ID));
    let json = demo_seed.to_json();
    assert_eq!(json.matches("\"need_confirm\": true").count(), 1, "{json}");
    assert_eq!(Seed::from_json(&json).expect("valid"), demo_seed);
    assert!(Seed::demo().with_need_confirm(P, "abcdef").is_err());

    let s = demo();
    let mut body = upgrade("later", &["d1"]);
    body["need_confirm"] = json!(true);
    let id = create(&s, &body).json["task_id"].as_str().expect("id").to_owned();
    let snapshot = s.snapshot();
    assert!(snapshot.needs_confirm(P, &id));
    assert_eq!(snapshot.tasks().len(), 6);
}

// ------------------------------------------------------- the test double

#[test]
fn the_journal_names_each_operation_and_its_targets() {
    let s = demo();
    list(&s, "task_type=firmwareUpgrade");
    op(&s, "retry", DEMO_PARTIAL_TASK_ID, r#"{"targets":["dev-0007"]}"#);
    op(&s, "confirm", DEMO_CONFIRM_TASK_ID, "{}");
    create(&s, &upgrade("journaled", &["d1", "d2"]));
    delete(&s, DEMO_FINISHED_TASK_ID);
    let journal = s.journal();
    let operations: Vec<Operation> = journal.iter().map(|e| e.operation).collect();
    assert_eq!(
        operations,
        [
            Operation::ListBatchTasks,
            Operation::RetryBatchTask,
            Operation::ConfirmBatchTask,
            Operation::CreateBatchTask,
            Operation::DeleteBatchTask,
        ]
    );
    let retry = journal
        .of(Operation::RetryBatchTask, DEMO_PARTIAL_TASK_ID)
        .next()
        .expect("retry");
    assert!(retry.is_retry_of(DEMO_PARTIAL_TASK_ID));
    assert_eq!(retry.targets(), Some(vec!["dev-0007".to_owned()]));
    let confirm = &journal[2];
    assert!(confirm.is_confirm_of(DEMO_CONFIRM_TASK_ID));
    assert_eq!(confirm.targets(), None, "{{}} confirms everything");
    assert_eq!(journal[3].targets(), Some(vec!["d1".to_owned(), "d2".to_owned()]));
    assert_eq!(journal[3].status_code(), Some(201));
    assert_eq!(journal[3].task_id, None);
    assert!(journal[4].is_delete_of(DEMO_FINISHED_TASK_ID));
    assert_eq!(
        (journal[4].status_code(), journal[4].response_body.clone()),
        (Some(204), None)
    );
    assert_eq!(journal[0].project_id.as_deref(), Some(P));

    for operation in Operation::ALL {
        assert_eq!(Operation::from_name(operation.name()), Some(operation));
        assert_eq!(operation.to_string(), operation.name());
    }
    assert_eq!(Operation::from_name("stopBatchTask"), None);
}

#[test]
fn faults_match_the_new_operations() {
    let s = demo();
    s.inject(Fault::status(StatusCode::SERVICE_UNAVAILABLE).on(Operation::RetryBatchTask))
        .expect("room");
    s.inject(Fault::process_then_fail(StatusCode::INTERNAL_SERVER_ERROR).on(Operation::CreateBatchTask))
        .expect("room");
    // A stop is not a retry: the rule waits.
    assert_eq!(op(&s, "stop", DEMO_TASK_ID, r#"{"targets":["dev-0001"]}"#).status, 200);
    let before = s.snapshot();
    refused(&op(&s, "retry", DEMO_TASK_ID, "{}"), 503, "EMULATOR.FAULT");
    assert_eq!(s.snapshot(), before, "an injected error does not apply the request");
    // Created, then the client is told it failed: an ambiguous create.
    refused(&create(&s, &upgrade("ambiguous", &["d1"])), 500, "EMULATOR.FAULT");
    let page = list(&s, "task_type=firmwareUpgrade&limit=1");
    assert_eq!(page.json["batchtasks"][0]["task_name"], "ambiguous");
    assert_eq!(s.pending_faults(), 0);
}

#[tokio::test]
async fn the_admin_endpoint_takes_the_new_operation_names() {
    let emulator = Emulator::start(EmulatorConfig::new().auth_enabled(false).admin_endpoint(true))
        .await
        .expect("starts");
    let client = reqwest::Client::new();
    let base = emulator.base_url();
    let posted = client
        .post(format!("{base}/__emulator/faults"))
        .body(r#"{"action": "status", "status": 503, "operation": "DeleteBatchTask"}"#)
        .send()
        .await
        .expect("admin");
    assert_eq!(posted.status(), 201);
    let unknown = client
        .post(format!("{base}/__emulator/faults"))
        .body(r#"{"action": "status", "status": 503, "operation": "ResumeBatchTask"}"#)
        .send()
        .await
        .expect("admin");
    assert_eq!(unknown.status(), 400);
    let deleted = client
        .delete(format!("{base}/v5/iot/{P}/batchtasks/{DEMO_FINISHED_TASK_ID}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 503);
    let deleted = client
        .delete(format!("{base}/v5/iot/{P}/batchtasks/{DEMO_FINISHED_TASK_ID}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    assert!(!deleted.headers().contains_key("content-type"));
    assert_eq!(deleted.headers()["x-request-id"].len(), 32);
    let journal: Value = client
        .get(format!("{base}/__emulator/journal"))
        .send()
        .await
        .expect("journal")
        .json()
        .await
        .expect("JSON");
    let operations: Vec<&str> = journal
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["operation"].as_str().expect("operation"))
        .collect();
    assert_eq!(operations, ["DeleteBatchTask", "DeleteBatchTask"]);
    emulator.shutdown().await;
}
