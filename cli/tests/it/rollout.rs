//! `iotda-batchtask rollout` through the built binary, against the emulator
//! on 127.0.0.1 whose created tasks move by a progression: waves that pass,
//! a wave the guard stops, bad input refused before anything is written or
//! sent, `status` and `abort`, and `kill -9` at many points of a run, each
//! followed by `resume`: one task per wave, every device in exactly one
//! task, the plan's end matching the emulator's.

use crate::common::*;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use iotda_batchtask_emulator::{
    DEMO_PROJECT_ID, EmulatorConfig, Fault, Operation, Progression, Seed, Selection, TaskStatus,
};
use serde_json::Value;

/// An emulator holding no task, whose created tasks run `run_for` each,
/// one device dispatched every `every`, failing on `bad-*` devices.
fn emulator(run_for: Duration, every: Duration) -> Running {
    let progression = Progression::new(run_for)
        .dispatch_every(every)
        .fail(Selection::none().with_pattern("^bad-").expect("pattern"));
    start(
        EmulatorConfig::new()
            .seed(Seed::new(Vec::new()).expect("an empty seed"))
            .token(TOKEN)
            .default_progression(progression),
    )
}

fn fast() -> Running {
    emulator(Duration::from_millis(200), Duration::ZERO)
}

fn command<S: AsRef<std::ffi::OsStr>>(emulator: &Running, args: &[S]) -> StdCommand {
    let mut cmd = StdCommand::new(assert_cmd::cargo::cargo_bin("iotda-batchtask"));
    cmd.env_clear()
        .env("IOTDA_ENDPOINT", emulator.handle.base_url())
        .env("HUAWEICLOUD_SDK_PROJECT_ID", DEMO_PROJECT_ID)
        .env("IOTDA_AUTH_TOKEN", TOKEN)
        .arg("rollout")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run<S: AsRef<std::ffi::OsStr>>(emulator: &Running, args: &[S]) -> Output {
    let mut cmd = Command::from_std(command(emulator, args));
    cmd.timeout(Duration::from_secs(120))
        .output()
        .expect("run iotda-batchtask")
}

/// `start --plan PLAN --task-type firmwareUpgrade --targets-file FLEET --waves WAVES`, then `extra`.
fn start_args(plan: &Path, fleet: &Path, waves: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["start", "--plan"].map(String::from).to_vec();
    args.push(plan.display().to_string());
    args.extend(["--task-type", "firmwareUpgrade", "--targets-file"].map(String::from));
    args.push(fleet.display().to_string());
    args.extend(["--waves", waves].map(String::from));
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `n` devices, `bad-NNNN` at the given positions, `dev-NNNN` elsewhere, in a file.
fn fleet(dir: &Path, n: usize, bad: &[usize]) -> PathBuf {
    let lines: Vec<String> = (0..n)
        .map(|i| {
            if bad.contains(&i) {
                format!("bad-{i:04}")
            } else {
                format!("dev-{i:04}")
            }
        })
        .collect();
    let path = dir.join("fleet.txt");
    std::fs::write(&path, lines.join("\n") + "\n").expect("fleet file");
    path
}

fn plan(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("plan file")).expect("plan JSON")
}

/// The emulator's tasks: name → (ID, status, devices).
fn tasks(emulator: &Running) -> BTreeMap<String, (String, TaskStatus, Vec<String>)> {
    let service = emulator.handle.service();
    let mut by_name = BTreeMap::new();
    for task in service.snapshot().tasks() {
        let snapshot = service.task(&task.project_id, &task.task_id).expect("listed task");
        let previous = by_name.insert(
            snapshot.task_name.clone(),
            (
                snapshot.task_id.clone(),
                snapshot.status,
                snapshot.subtasks.keys().cloned().collect(),
            ),
        );
        assert!(previous.is_none(), "two tasks named {}", snapshot.task_name);
    }
    by_name
}

/// One task per wave the plan has begun, named for it, holding exactly the
/// wave's devices, every device in one task only, and each recorded task
/// ID and final status as the emulator has them.
fn assert_plan_matches_emulator(emulator: &Running, plan: &Value) {
    let tasks = tasks(emulator);
    let id = plan["plan_id"].as_str().expect("plan_id");
    let mut seen = HashSet::new();
    let mut begun = 0;
    for (i, wave) in plan["waves"].as_array().expect("waves").iter().enumerate() {
        let state = &wave["state"];
        if state["kind"] == "pending" {
            continue;
        }
        begun += 1;
        let name = format!("rollout_{id}_wave{}", i + 1);
        let (task_id, status, devices) = tasks.get(&name).unwrap_or_else(|| panic!("no task {name}: {tasks:?}"));
        let planned: Vec<&str> = wave["devices"]
            .as_array()
            .expect("devices")
            .iter()
            .map(|d| d.as_str().expect("device"))
            .collect();
        assert_eq!(devices.len(), planned.len(), "{name}");
        for device in devices {
            assert!(planned.contains(&device.as_str()), "{device} is not in wave {}", i + 1);
            assert!(seen.insert(device.clone()), "{device} is in two tasks");
        }
        if let Some(recorded) = state["task_id"].as_str() {
            assert_eq!(recorded, task_id, "{name}");
        }
        if state["kind"] == "finished" {
            assert_eq!(state["status"].as_str(), Some(status.as_str()), "{name}");
        }
    }
    assert_eq!(
        tasks.len(),
        begun,
        "a task for each begun wave, none more: {:?}",
        tasks.keys()
    );
}

#[test]
fn start_runs_every_wave_in_order_and_status_and_json_lines_tell_it() {
    let emulator = fast();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = fleet(dir.path(), 100, &[]);
    let plan_path = dir.path().join("plan.json");
    let out = run(
        &emulator,
        &[
            "start",
            "--plan",
            plan_path.to_str().unwrap(),
            "--task-type",
            "firmwareUpgrade",
            "--package-id",
            "32822e5744a45ede319d2c50",
            "--targets-file",
            fleet.to_str().unwrap(),
            "--waves",
            "1%,10%,50%,100%",
            "--abort-if",
            "failed>=5%",
            "--interval",
            "1",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    for line in &lines {
        assert!(line["event"].is_string(), "{line}");
        assert!(line.get("wave").is_some(), "every line has a wave: {line}");
    }
    let created: Vec<i64> = lines
        .iter()
        .filter(|l| l["event"] == "created")
        .map(|l| l["wave"].as_i64().expect("wave"))
        .collect();
    assert_eq!(created, [1, 2, 3, 4]);
    assert!(lines.iter().any(|l| l["event"] == "progress" && l["wave"] == 4));
    let summary = lines.last().expect("a summary");
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["outcome"], "done");
    assert_eq!(summary["exit_code"], 0);
    let plan = plan(&plan_path);
    assert_eq!(plan["state"]["kind"], "done");
    assert_plan_matches_emulator(&emulator, &plan);
    let sizes: Vec<usize> = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["devices"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [1, 9, 40, 50]);

    let out = run(
        &emulator,
        &["status", "--plan", plan_path.to_str().unwrap(), "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let status: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(status["plan_state"], "done");
    for wave in status["waves"].as_array().unwrap() {
        assert_eq!(wave["live"]["task_status"], "Success", "{wave}");
    }
    assert!(status["next"].as_str().unwrap().contains("every wave is done"));
    // Done is final: starting again on the same file is refused.
    let again = run(&emulator, &start_args(&plan_path, &fleet, "100%", &[]));
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("exists already"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn a_bad_wave_trips_the_guard_exit_7_the_plan_aborted_and_no_later_wave() {
    // One device dispatched every 100 ms, each running 300 ms: the second
    // wave's bad devices fail while the rest still run.
    let emulator = emulator(Duration::from_millis(300), Duration::from_millis(100));
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = fleet(dir.path(), 60, &[5, 6, 7, 8]);
    let plan_path = dir.path().join("plan.json");
    let out = run(
        &emulator,
        &start_args(
            &plan_path,
            &fleet,
            "4,30,all",
            &["--abort-if", "failed>=2", "--interval", "1"],
        ),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("wave 2/3: failed>=2 tripped"), "{stdout}");
    assert!(stdout.contains("rollout ABORTED"), "{stdout}");
    let plan = plan(&plan_path);
    assert_eq!(plan["state"]["kind"], "aborted");
    assert_eq!(plan["waves"][1]["state"]["kind"], "aborted");
    assert_eq!(plan["waves"][2]["state"]["kind"], "pending");
    assert_plan_matches_emulator(&emulator, &plan);
    let (_, status, _) = &tasks(&emulator)[&format!("rollout_{}_wave2", plan["plan_id"].as_str().unwrap())];
    assert!(
        matches!(status, TaskStatus::Stopped | TaskStatus::Stopping),
        "{status:?}"
    );
    // An aborted plan stays aborted: resume says so and sends no create.
    let out = run(&emulator, &["resume", "--plan", plan_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("already aborted"));
    assert_eq!(tasks(&emulator).len(), 2);
}

#[test]
fn bad_input_is_refused_before_anything_is_written_or_sent() {
    let emulator = fast();
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = fleet(dir.path(), 10, &[]);
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "# nobody\n\n").unwrap();
    let plan_path = dir.path().join("plan.json");
    let start = |extra: &[&str]| {
        let mut args = vec![
            "start",
            "--plan",
            plan_path.to_str().unwrap(),
            "--task-type",
            "firmwareUpgrade",
        ];
        args.extend_from_slice(extra);
        run(&emulator, &args)
    };
    let fleet = fleet.to_str().unwrap();
    for (extra, named) in [
        (vec!["--targets-file", fleet, "--waves", "10%,5%,100%"], "--waves"),
        (vec!["--targets-file", fleet, "--waves", "10%,110%"], "--waves"),
        (vec!["--targets-file", fleet, "--waves", "10%,50%"], "--waves"),
        (vec!["--targets-file", fleet, "--waves", "1%,2%,100%"], "--waves"),
        (
            vec![
                "--targets-file",
                fleet,
                "--waves",
                "100%",
                "--advance-if",
                "success>=0%",
            ],
            "--advance-if",
        ),
        (
            vec![
                "--targets-file",
                fleet,
                "--waves",
                "100%",
                "--advance-if",
                "success>=101%",
            ],
            "--advance-if",
        ),
        (
            vec!["--targets-file", fleet, "--waves", "100%", "--abort-if", "failed>=0%"],
            "--abort-if",
        ),
        (
            vec!["--targets-file", empty.to_str().unwrap(), "--waves", "100%"],
            "--targets-file",
        ),
        (
            vec!["--targets-file", fleet, "--waves", "100%", "--interval", "0"],
            "--interval",
        ),
        (
            vec!["--targets-file", fleet, "--waves", "100%", "--need-confirm"],
            "--need-confirm",
        ),
    ] {
        let out = start(&extra);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(named), "{extra:?} names {named}: {stderr}");
        assert!(!plan_path.exists(), "{extra:?} wrote the plan");
    }
    assert_eq!(emulator.handle.service().request_count(), 0, "nothing was sent");

    // resume, status and abort refuse a plan they cannot trust, sending nothing.
    let good = start(&["--targets-file", fleet, "--waves", "100%", "--output", "json"]);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stderr));
    let sent = emulator.handle.service().request_count();
    let bytes = std::fs::read(&plan_path).unwrap();
    let mut future: Value = serde_json::from_slice(&bytes).unwrap();
    future["version"] = Value::from(99);
    let mut edited: Value = serde_json::from_slice(&bytes).unwrap();
    edited["waves"][0]["devices"] = Value::Array(Vec::new());
    let mut elsewhere: Value = serde_json::from_slice(&bytes).unwrap();
    elsewhere["project_id"] = Value::from("fedcba9876543210fedcba9876543210");
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("missing", Vec::new(), "no plan file"),
        ("truncated", bytes[..bytes.len() / 2].to_vec(), "not a valid plan file"),
        ("edited", serde_json::to_vec(&edited).unwrap(), "waves[0]"),
        (
            "future",
            serde_json::to_vec(&future).unwrap(),
            "newer than this program",
        ),
        ("elsewhere", serde_json::to_vec(&elsewhere).unwrap(), "the plan is for"),
    ];
    for (name, content, says) in cases {
        let path = dir.path().join(format!("{name}.json"));
        if name != "missing" {
            std::fs::write(&path, content).unwrap();
        }
        for sub in ["resume", "status", "abort"] {
            let out = run(&emulator, &[sub, "--plan", path.to_str().unwrap()]);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{sub} {name}: {stderr}");
            assert!(stderr.contains(says), "{sub} {name}: {stderr}");
        }
    }
    assert_eq!(emulator.handle.service().request_count(), sent, "nothing was sent");
}

#[test]
fn abort_stops_the_running_waves_task_and_a_running_start_ends_without_undoing_it() {
    // Devices run 30 s: the wave is still running when aborted.
    let emulator = emulator(Duration::from_secs(30), Duration::ZERO);
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = fleet(dir.path(), 10, &[]);
    let plan_path = dir.path().join("plan.json");
    let child = command(
        &emulator,
        &start_args(&plan_path, &fleet, "50%,100%", &["--interval", "1"]),
    )
    .spawn()
    .expect("start");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !plan_path.exists() || plan(&plan_path)["waves"][0]["state"]["kind"] != "watching" {
        assert!(Instant::now() < deadline, "wave 1 never watched");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = run(
        &emulator,
        &["abort", "--plan", plan_path.to_str().unwrap(), "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let aborted: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(aborted["plan_state"], "aborted");
    let started = child.wait_with_output().expect("start ends");
    let stdout = text(&started.stdout);
    assert_eq!(started.status.code(), Some(3), "{stdout}\n{}", text(&started.stderr));
    assert!(stdout.contains("changed by another process"), "{stdout}");
    let plan = plan(&plan_path);
    assert_eq!(
        plan["state"]["kind"], "aborted",
        "the running start did not undo the abort"
    );
    assert_plan_matches_emulator(&emulator, &plan);
    assert_eq!(tasks(&emulator).len(), 1, "no second wave");
}

/// The plan's state in short: each wave's kind, and the plan's.
fn progress_of(path: &Path) -> Option<String> {
    let plan: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let waves: Vec<&str> = plan["waves"]
        .as_array()?
        .iter()
        .map(|w| w["state"]["kind"].as_str().unwrap_or("?"))
        .collect();
    Some(format!(
        "{} {}",
        plan["state"]["kind"].as_str().unwrap_or("?"),
        waves.join(",")
    ))
}

/// A kill point of one run.
enum KillAt {
    /// When the plan file has changed this many times since the run began
    /// (each change is a saved step: a create's intent, its task, the watch,
    /// a wave's end, a halt).
    Change(usize),
    /// After this long.
    After(Duration),
}

#[test]
fn kill_9_at_twenty_points_then_resume_never_creates_twice_and_ends_as_the_emulator_does() {
    // Creates are answered after 150 ms (the window between saving the
    // intent and recording the answer is wide), devices run 300 ms, and
    // wave 4's bad device makes it finish below 100%: the plan halts there
    // and is forced on, as an operator would. Six waves make about 25 saved
    // steps, so every one of the twenty points falls inside the run.
    let emulator = emulator(Duration::from_millis(300), Duration::from_millis(10));
    for _ in 0..12 {
        emulator
            .handle
            .service()
            .inject(Fault::delay(Duration::from_millis(150)).on(Operation::CreateBatchTask))
            .expect("fault");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = fleet(dir.path(), 40, &[15]);
    let plan_path = dir.path().join("plan.json");
    let plan_arg = plan_path.to_str().unwrap().to_owned();
    let start = start_args(&plan_path, &fleet, "5%,10%,25%,50%,75%,100%", &["--interval", "1"]);
    // Twenty points spread over the run: right after each kind of saved
    // step (the intent saved with the create in flight, the task recorded,
    // the watch under way, a wave's end), and at times between them.
    use KillAt::{After, Change};
    let ms = Duration::from_millis;
    let points = [
        After(ms(0)),
        Change(1),
        Change(1),
        Change(1),
        After(ms(500)),
        Change(1),
        Change(1),
        After(ms(30)),
        Change(1),
        After(ms(120)),
        Change(2),
        After(ms(5)),
        Change(1),
        After(ms(300)),
        Change(1),
        After(ms(60)),
        Change(1),
        Change(1),
        After(ms(250)),
        Change(1),
    ];
    let mut kills = 0;
    let mut ended = Vec::new();
    for point in &points {
        let state = progress_of(&plan_path).unwrap_or_default();
        if state.starts_with("done") {
            break;
        }
        // Killed before the plan was written: nothing was sent; start again.
        let mut args: Vec<String> = if plan_path.exists() {
            vec![
                "resume".into(),
                "--plan".into(),
                plan_arg.clone(),
                "--settle-after".into(),
                "1".into(),
            ]
        } else {
            start.clone()
        };
        if state.starts_with("halted") {
            args.push("--force-advance".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = command(&emulator, &args).spawn().expect("spawn");
        let since = Instant::now();
        let (mut seen, mut changes) = (state.clone(), 0);
        let killed = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                ended.push((state.clone(), status.code()));
                break false;
            }
            let now = progress_of(&plan_path).unwrap_or_default();
            if now != seen {
                changes += 1;
                seen = now;
            }
            let due = match point {
                After(after) => since.elapsed() >= *after,
                Change(n) => changes >= *n,
            };
            if due || since.elapsed() > Duration::from_secs(20) {
                child.kill().expect("kill -9");
                child.wait().expect("reaped");
                break true;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        kills += usize::from(killed);
        eprintln!(
            "kill point {}: from {state:?}, killed: {killed}, now {:?}",
            kills,
            progress_of(&plan_path).unwrap_or_default()
        );
    }
    assert!(
        kills >= 16,
        "only {kills} of the 20 points killed a run; runs that ended: {ended:?}"
    );
    // Then resume (forcing past the halted wave) until the plan is done.
    for _ in 0..10 {
        let state = progress_of(&plan_path).unwrap_or_default();
        if state.starts_with("done") {
            break;
        }
        let mut args = vec!["resume", "--plan", &plan_arg, "--settle-after", "1"];
        if state.starts_with("halted") {
            args.push("--force-advance");
        }
        let out = run(&emulator, &args);
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{:?}: {}\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let plan = plan(&plan_path);
    assert_eq!(plan["state"]["kind"], "done", "{plan}");
    assert_plan_matches_emulator(&emulator, &plan);
    assert_eq!(tasks(&emulator).len(), 6, "one task per wave");
}
