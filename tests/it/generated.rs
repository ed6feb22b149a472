//! Locks what progenitor generates from the spec, and how a broken spec fails.
//!
//! `build.rs` is included as a module so these tests call the very function
//! the build runs. A spec edit changes the snapshots below: review them with
//! `cargo insta review`.

use std::path::Path;

#[path = "../../build.rs"]
#[allow(dead_code)]
mod codegen;

use iotda_batchtask::types;

fn generate() -> codegen::Generated {
    codegen::generate_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join(codegen::SPEC_PATH)).expect("the spec generates")
}

#[test]
fn generated_types_snapshot() {
    insta::assert_snapshot!("generated_types", generate().types);
}

#[test]
fn generated_client_snapshot() {
    insta::assert_snapshot!("generated_client", generate().client);
}

#[test]
fn generated_limits_snapshot() {
    insta::assert_snapshot!("generated_limits", generate().limits);
}

#[test]
fn build_output_is_what_the_snapshots_lock() {
    let generated = generate();
    assert_eq!(include_str!(concat!(env!("OUT_DIR"), "/types.rs")), generated.types);
    assert_eq!(include_str!(concat!(env!("OUT_DIR"), "/client.rs")), generated.client);
    assert_eq!(include_str!(concat!(env!("OUT_DIR"), "/limits.rs")), generated.limits);
}

/// The limits module agrees with the generated types that enforce the same
/// rules, so neither can drift from the other.
#[test]
fn limits_agree_with_the_generated_types() {
    use iotda_batchtask::limits;
    let values: Vec<&str> = types::TaskDetailStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(values, limits::TASK_DETAIL_STATUS_VALUES);
    for status in types::TaskDetailStatus::ALL {
        assert_eq!(status.as_str().parse::<types::TaskDetailStatus>().unwrap(), status);
        assert_eq!(status.to_string(), status.as_str());
    }
    let longest = "a".repeat(limits::DEVICE_ID_MAX_LEN);
    assert!(longest.parse::<types::DeviceId>().is_ok());
    assert!(format!("{longest}a").parse::<types::DeviceId>().is_err());
    for byte in 0..=u8::MAX {
        let one = String::from_utf8(vec![byte]).unwrap_or_default();
        assert_eq!(
            one.parse::<types::DeviceId>().is_ok(),
            limits::is_device_id_byte(byte),
            "byte {byte:#04x}"
        );
    }
    assert_eq!(types::Marker::default().len(), limits::MARKER_MAX_LEN);
    let err = "Rejected2".parse::<types::TaskDetailStatus>().unwrap_err().to_string();
    assert!(
        err.starts_with(r#"invalid value "Rejected2"; expected one of Success, Fail,"#),
        "{err}"
    );
}

#[test]
fn generation_is_deterministic() {
    let first = generate();
    for _ in 0..3 {
        assert_eq!(generate(), first, "same spec, different code");
    }
}

/// The JSON Schema of every public type in the generated `types` module.
#[test]
fn json_schemas_of_generated_types() {
    macro_rules! schemas {
        ($($name:ident),* $(,)?) => {{
            let mut map = serde_json::Map::new();
            $(map.insert(stringify!($name).to_owned(), serde_json::to_value(schemars::schema_for!(types::$name)).unwrap());)*
            map
        }};
    }
    let schemas = schemas!(
        AppId,
        BatchTargetResult,
        BatchTargets,
        BatchTargetsResponse,
        BatchTask,
        DeviceId,
        ErrorBody,
        ErrorInfo,
        InstanceId,
        Marker,
        NewBatchTask,
        NewTaskPolicy,
        Page,
        ProjectId,
        ScheduleTime,
        Task,
        TaskDetail,
        TaskDetailStatus,
        TaskId,
        TaskMode,
        TaskName,
        TaskPolicy,
        TaskProgress,
        TaskStatus,
        TaskType,
        Tasks,
    );

    // The list above must name every public struct and enum generated, so a
    // new type cannot slip past this snapshot.
    let file = syn::parse_file(include_str!(concat!(env!("OUT_DIR"), "/types.rs"))).unwrap();
    let generated: Vec<String> = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) if matches!(s.vis, syn::Visibility::Public(_)) => Some(s.ident.to_string()),
            syn::Item::Enum(e) if matches!(e.vis, syn::Visibility::Public(_)) => Some(e.ident.to_string()),
            _ => None,
        })
        .collect();
    let listed: Vec<&String> = schemas.keys().collect();
    assert_eq!(listed, generated.iter().collect::<Vec<_>>(), "update the schemas! list");

    insta::assert_json_snapshot!("json_schemas", schemas);
}

#[test]
fn malformed_yaml_names_file_and_position() {
    let err = codegen::generate(
        "openapi: 3.0.3\ninfo:\n  title: x\n  version: [1\n",
        "openapi/broken.yaml",
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("openapi/broken.yaml: not a valid OpenAPI 3.0 document: "),
        "{message}"
    );
    assert!(message.contains("line 4"), "{message}");
}

#[test]
fn wrong_shape_names_file_and_position() {
    let spec = "openapi: 3.0.3\ninfo:\n  title: x\n  version: v1\npaths:\n  /a:\n    get:\n      responses: 7\n";
    let message = codegen::generate(spec, "spec.yaml").unwrap_err().to_string();
    assert!(
        message.starts_with("spec.yaml: not a valid OpenAPI 3.0 document: "),
        "{message}"
    );
    // openapiv3's untagged path items report the position of the path.
    assert!(message.contains("line 6") && message.contains("Responses"), "{message}");
}

#[test]
fn openapi_31_is_refused_with_progenitors_reason() {
    let spec = "openapi: 3.1.0\ninfo:\n  title: x\n  version: v1\npaths: {}\n";
    let message = codegen::generate(spec, "spec.yaml").unwrap_err().to_string();
    assert!(
        message.starts_with("spec.yaml: progenitor cannot generate a client: "),
        "{message}"
    );
    assert!(message.contains("3.1.0"), "{message}");
}

#[test]
fn differing_error_schemas_are_an_error_not_a_panic() {
    // progenitor asserts that all error responses share one type; the build
    // must report that as a message.
    let spec = r#"
openapi: 3.0.3
info: {title: x, version: v1}
paths:
  /a:
    get:
      operationId: get_a
      responses:
        '200': {description: ok, content: {application/json: {schema: {type: string}}}}
        '400': {description: bad, content: {application/json: {schema: {type: object, properties: {a: {type: string}}}}}}
        '500': {description: bad, content: {application/json: {schema: {type: integer}}}}
"#;
    let message = codegen::generate(spec, "spec.yaml").unwrap_err().to_string();
    assert!(
        message.starts_with("spec.yaml: progenitor cannot generate a client: "),
        "{message}"
    );
}

#[test]
fn missing_file_is_named() {
    let message = codegen::generate_file(Path::new("openapi/nope.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("openapi/nope.yaml: cannot read the OpenAPI spec"),
        "{message}"
    );
}

/// The library reads each answer at the one success status the spec gives
/// its operation, and gets its request back from the generated `send` under
/// a status no spec lists: a spec it could not read so is refused by name.
#[test]
fn a_success_the_send_path_cannot_read_is_refused() {
    let spec = |responses: &str| {
        format!(
            "openapi: 3.0.3\ninfo: {{title: x, version: v1}}\npaths:\n  /a:\n    get:\n      operationId: GetA\n      responses:\n{responses}"
        )
    };
    let cases = [
        (
            "        '200': {description: ok}\n        default: {description: any}\n",
            "spec.yaml: progenitor cannot generate a client: paths./a.get has a `default` response: list its statuses instead",
        ),
        (
            "        '200': {description: ok}\n        '201': {description: made}\n",
            "spec.yaml: progenitor cannot generate a client: paths./a.get must document exactly one 2xx status (not a range)",
        ),
        (
            "        '200': {description: ok}\n        '999': {description: odd}\n",
            "spec.yaml: progenitor cannot generate a client: paths./a.get lists status 999, not an HTTP status (100 to 599)",
        ),
        (
            "        '404': {description: gone}\n",
            "spec.yaml: progenitor cannot generate a client: paths./a.get must document exactly one 2xx status (not a range)",
        ),
    ];
    for (responses, expected) in cases {
        let message = codegen::generate(&spec(responses), "spec.yaml")
            .unwrap_err()
            .to_string();
        assert_eq!(message, expected);
    }
    // One 2xx, no `default`: generated, with the builder's success.
    let generated = codegen::generate(&spec("        '204': {description: done}\n"), "spec.yaml").unwrap();
    assert!(
        generated
            .client
            .contains("impl crate::client::send::OperationSpec for builder::GetA<'_>")
            && generated.client.contains("status: 204u16"),
        "{}",
        generated.client
    );
}
