//! Conformance: the project's OpenAPI spec against Huawei's own API Explorer
//! definitions (vendored in tests/upstream/), constraint by constraint.
//!
//! Compared: path and method; every parameter's location, required-ness,
//! type, format, pattern, length and range limits, default and allowed
//! values; the request body's required-ness, schema and array limits; every
//! upstream status code; the 200 response's fields (names, types, formats,
//! nesting). A disagreement names the place and both values.
//!
//! Documented equivalences (Huawei's format differs from OpenAPI 3):
//! - an upstream pattern without `^`/`$` equals the spec's anchored pattern
//!   (the text describes whole values; the spec anchors it);
//! - an upstream pattern that is a bare alternation `A|B|C` equals a spec
//!   `enum: [A, B, C]`;
//! - upstream `x-maxLength`/`x-minLength` on an array are `maxItems`/
//!   `minItems` (`x-minLength: 0` is no limit);
//! - validation keywords on *response* fields are not carried into the spec:
//!   responses are parsed leniently, so a value outside a documented range
//!   never makes a whole answer undecodable;
//! - a response model shared by several operations (`Task`) is the union of
//!   its upstream definitions: a spec field one operation's definition lacks
//!   is accepted when another vendored definition of the same model has it
//!   (`need_confirm` is in List's and Create's `Task`, not in Show's);
//! - upstream `additionalProperties: {type: object, properties: {}}` (a Java
//!   `Object`: any JSON value; `targets_filter`'s documented `group_ids` value
//!   is an array) equals the spec's `additionalProperties: {}`;
//! - a 204 response's upstream schema (DeleteBatchTask's `type: string`) is
//!   not compared: No Content carries no body, and the spec gives it none;
//! - a limit upstream states only in a field's description is a keyword in
//!   the spec; [`PROSE_LIMITS`] lists each, with the words that state it, and
//!   the check fails if upstream's description stops saying them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

const SPEC: &str = include_str!("../../openapi/iotda-batchtask.yaml");
const UPSTREAM: [(&str, &str); 7] = [
    ("StopBatchTask", include_str!("../upstream/StopBatchTask.json")),
    ("ShowBatchTask", include_str!("../upstream/ShowBatchTask.json")),
    ("ListBatchTasks", include_str!("../upstream/ListBatchTasks.json")),
    ("RetryBatchTask", include_str!("../upstream/RetryBatchTask.json")),
    ("ConfirmBatchTask", include_str!("../upstream/ConfirmBatchTask.json")),
    ("DeleteBatchTask", include_str!("../upstream/DeleteBatchTask.json")),
    ("CreateBatchTask", include_str!("../upstream/CreateBatchTask.json")),
];

/// Limits Huawei states in prose only: (place, keyword, spec value, the
/// upstream description's words that state it).
const PROSE_LIMITS: [(&str, &str, u64, &str); 1] = [(
    "CreateBatchTask (POST /v5/iot/{project_id}/batchtasks) request body.targets",
    "maxItems",
    30_000,
    "最多支持3万个device_id",
)];

fn spec() -> Value {
    serde_yaml_ng::from_str(SPEC).expect("the spec is YAML")
}

/// Follows a local `$ref` (`#/a/b/c`) in `doc`.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    let mut value = value;
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let mut target = doc;
        for part in reference.trim_start_matches("#/").split('/') {
            target = &target[part];
        }
        value = target;
    }
    value
}

/// A pattern with its anchors removed, for comparison.
fn unanchored(p: &str) -> &str {
    p.strip_prefix('^')
        .unwrap_or(p)
        .strip_suffix('$')
        .unwrap_or(p.strip_prefix('^').unwrap_or(p))
}

/// A bare alternation of words (`A|B|C`), as a set.
fn alternation(p: &str) -> Option<BTreeSet<String>> {
    let inner = unanchored(p);
    let inner = inner
        .strip_prefix('(')
        .and_then(|i| i.strip_suffix(')'))
        .unwrap_or(inner);
    let words: BTreeSet<String> = inner.split('|').map(str::to_owned).collect();
    // One word (`GATEWAY`) is the one-value case of the same rule.
    (!words.is_empty()
        && words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')))
    .then_some(words)
}

struct Check<'a> {
    spec: &'a Value,
    upstream: &'a Value,
    /// Each upstream model's fields across every vendored definition.
    models: &'a BTreeMap<String, BTreeSet<String>>,
    problems: Vec<String>,
}

/// Each upstream model (`definitions` key) with the union of its fields
/// over every vendored definition.
fn models(upstreams: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    let mut models: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for upstream in upstreams {
        for (name, model) in upstream["definitions"].as_object().into_iter().flatten() {
            let fields = model["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(f, _)| f.clone());
            models.entry(name.clone()).or_default().extend(fields);
        }
    }
    models
}

/// Huawei's "any value" (a Java `Object`): `{type: object, properties: {}}`.
fn any_value(upstream: &Value) -> bool {
    upstream["type"] == "object"
        && upstream["properties"].as_object().is_some_and(Map::is_empty)
        && upstream.get("additionalProperties").is_none()
}

impl Check<'_> {
    fn differ(&mut self, place: &str, what: &str, spec: impl std::fmt::Debug, upstream: impl std::fmt::Debug) {
        self.problems
            .push(format!("{place}: {what}: spec {spec:?}, upstream {upstream:?}"));
    }

    /// Compares one scalar keyword that both documents express the same way.
    fn same(&mut self, place: &str, key: &str, spec: &Value, upstream: &Value) {
        let (s, u) = (spec.get(key), upstream.get(key));
        if s != u {
            self.differ(place, key, s, u);
        }
    }

    /// Compares a parameter's constraints (`upstream` is a Swagger 2 parameter
    /// or schema, `spec` an OpenAPI 3 schema).
    fn constraints(&mut self, place: &str, spec: &Value, upstream: &Value) {
        for key in [
            "type",
            "format",
            "minLength",
            "maxLength",
            "minimum",
            "maximum",
            "default",
        ] {
            self.same(place, key, spec, upstream);
        }
        match (spec.get("pattern"), spec.get("enum"), upstream.get("pattern")) {
            (Some(s), None, Some(u)) => {
                let (s, u) = (s.as_str().unwrap_or(""), u.as_str().unwrap_or(""));
                if unanchored(s) != unanchored(u) {
                    self.differ(place, "pattern", s, u);
                }
            }
            (None, Some(values), Some(u)) => {
                let spec_values: BTreeSet<String> = values
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                match alternation(u.as_str().unwrap_or("")) {
                    Some(words) if words == spec_values => {}
                    _ => self.differ(place, "allowed values (spec enum, upstream pattern)", spec_values, u),
                }
            }
            (None, None, None) => {}
            (s, e, u) => self.differ(place, "pattern", s.or(e), u),
        }
    }

    fn operation(&mut self, name: &str) {
        let upstream = self.upstream;
        let Some((path, item)) = upstream["paths"].as_object().and_then(|p| p.iter().next()) else {
            return self.problems.push(format!("{name}: upstream has no path"));
        };
        let Some((method, op)) = item.as_object().and_then(|m| m.iter().next()) else {
            return self.problems.push(format!("{name}: upstream has no method"));
        };
        let place = format!("{name} ({} {path})", method.to_uppercase());
        let Some(spec_op) = self.spec["paths"].get(path).and_then(|p| p.get(method)) else {
            return self
                .problems
                .push(format!("{place}: missing from the spec (path or method differs)"));
        };
        let spec_op = spec_op.clone();
        if spec_op["operationId"] != op["operationId"] {
            self.differ(&place, "operationId", &spec_op["operationId"], &op["operationId"]);
        }
        self.parameters(&place, &spec_op, op);
        self.request_body(&place, &spec_op, op);
        self.responses(&place, &spec_op, op);
    }

    fn parameters(&mut self, place: &str, spec_op: &Value, op: &Value) {
        let key = |p: &Value| {
            let name = p["name"].as_str().unwrap_or("").to_owned();
            let location = p["in"].as_str().unwrap_or("").to_owned();
            // Header names are case-insensitive.
            let name = if location == "header" {
                name.to_ascii_lowercase()
            } else {
                name
            };
            (location, name)
        };
        let upstream: BTreeMap<(String, String), &Value> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] != "body")
            .map(|p| (key(p), p))
            .collect();
        let spec = self.spec;
        let spec_params: BTreeMap<(String, String), &Value> = spec_op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| resolve(spec, p))
            .map(|p| (key(p), p))
            .collect();
        for (k, u) in &upstream {
            let where_ = format!("{place} {} parameter `{}`", k.0, k.1);
            let Some(s) = spec_params.get(k) else {
                self.problems
                    .push(format!("{where_}: in upstream, missing from the spec"));
                continue;
            };
            let required = |p: &Value| p["required"].as_bool().unwrap_or(false);
            if required(s) != required(u) {
                self.differ(&where_, "required", required(s), required(u));
            }
            let schema = resolve(spec, &s["schema"]).clone();
            self.constraints(&where_, &schema, u);
        }
        for k in spec_params.keys().filter(|k| !upstream.contains_key(*k)) {
            self.problems.push(format!(
                "{place} {} parameter `{}`: in the spec, not upstream",
                k.0, k.1
            ));
        }
    }

    fn request_body(&mut self, place: &str, spec_op: &Value, op: &Value) {
        let upstream = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["in"] == "body");
        let spec_body = spec_op.get("requestBody");
        match (spec_body, upstream) {
            (None, None) => {}
            (Some(_), None) => self
                .problems
                .push(format!("{place} request body: in the spec, not upstream")),
            (None, Some(_)) => self
                .problems
                .push(format!("{place} request body: in upstream, missing from the spec")),
            (Some(s), Some(u)) => {
                let where_ = format!("{place} request body");
                let (sr, ur) = (
                    s["required"].as_bool().unwrap_or(false),
                    u["required"].as_bool().unwrap_or(false),
                );
                if sr != ur {
                    self.differ(&where_, "required", sr, ur);
                }
                let spec_schema = resolve(self.spec, &s["content"]["application/json"]["schema"]).clone();
                let upstream_schema = resolve(self.upstream, &u["schema"]).clone();
                self.schema(&where_, &spec_schema, &upstream_schema, true, 0);
            }
        }
    }

    fn responses(&mut self, place: &str, spec_op: &Value, op: &Value) {
        for (status, upstream) in op["responses"].as_object().into_iter().flatten() {
            let Some(spec) = spec_op["responses"].get(status) else {
                self.problems
                    .push(format!("{place} response {status}: in upstream, missing from the spec"));
                continue;
            };
            if status == "204" {
                if spec.get("content").is_some() {
                    self.problems
                        .push(format!("{place} response 204: the spec gives No Content a body"));
                }
                continue;
            }
            if let Some(u) = upstream.get("schema") {
                let spec = resolve(self.spec, spec);
                let s = resolve(self.spec, &spec["content"]["application/json"]["schema"]).clone();
                let u = resolve(self.upstream, u).clone();
                self.schema(&format!("{place} response {status}"), &s, &u, false, 0);
            }
        }
    }

    /// Compares two schemas field by field. `request`: validation keywords
    /// count (they do not in responses; see the module comment).
    fn schema(&mut self, place: &str, spec: &Value, upstream: &Value, request: bool, depth: usize) {
        if depth > 8 {
            return self.problems.push(format!("{place}: nested too deep (a cycle?)"));
        }
        let spec = resolve(self.spec, spec).clone();
        let model = upstream["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/definitions/"))
            .map(str::to_owned);
        let upstream = resolve(self.upstream, upstream).clone();
        for key in ["type", "format"] {
            self.same(place, key, &spec, &upstream);
        }
        if request {
            self.constraints(place, &spec, &upstream);
        }
        match upstream["type"].as_str() {
            Some("array") => {
                if request {
                    let limit =
                        |v: &Value, a: &str, b: &str| v.get(a).or(v.get(b)).and_then(Value::as_u64).filter(|n| *n > 0);
                    for (spec_key, upstream_key) in [("maxItems", "x-maxLength"), ("minItems", "x-minLength")] {
                        let (s, u) = (
                            limit(&spec, spec_key, spec_key),
                            limit(&upstream, upstream_key, spec_key),
                        );
                        let in_prose = PROSE_LIMITS.iter().any(|(at, key, value, words)| {
                            *at == place
                                && *key == spec_key
                                && s == Some(*value)
                                && u.is_none()
                                && upstream["description"].as_str().is_some_and(|d| d.contains(words))
                        });
                        if s != u && !in_prose {
                            self.differ(place, spec_key, s, u);
                        }
                    }
                }
                self.schema(
                    &format!("{place}[]"),
                    &spec["items"],
                    &upstream["items"],
                    request,
                    depth + 1,
                );
            }
            Some("object") | None => {
                let empty = Map::new();
                let (sp, up) = (
                    spec["properties"].as_object().unwrap_or(&empty),
                    upstream["properties"].as_object().unwrap_or(&empty),
                );
                for (name, u) in up {
                    match sp.get(name) {
                        Some(s) => self.schema(&format!("{place}.{name}"), s, u, request, depth + 1),
                        None => self
                            .problems
                            .push(format!("{place}.{name}: in upstream, missing from the spec")),
                    }
                }
                let elsewhere = |name: &str| {
                    !request
                        && model
                            .as_ref()
                            .and_then(|m| self.models.get(m))
                            .is_some_and(|fields| fields.contains(name))
                };
                for name in sp.keys().filter(|n| !up.contains_key(*n) && !elsewhere(n)) {
                    self.problems.push(format!("{place}.{name}: in the spec, not upstream"));
                }
                let required = |v: &Value| -> BTreeSet<String> {
                    v["required"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect()
                };
                if required(&spec) != required(&upstream) {
                    self.differ(place, "required fields", required(&spec), required(&upstream));
                }
                match (spec.get("additionalProperties"), upstream.get("additionalProperties")) {
                    (Some(s), Some(u)) if s == &Value::Object(Map::new()) && any_value(u) => {}
                    (Some(s), Some(u)) if s.is_object() && u.is_object() => {
                        self.schema(&format!("{place}.*"), s, u, request, depth + 1)
                    }
                    (Some(s), None) if place.ends_with("ErrorBody") || s == &Value::Object(Map::new()) => {}
                    (s, u) if s.is_some() != u.is_some() => self.differ(place, "additionalProperties", s, u),
                    _ => {}
                }
            }
            Some(_) => {}
        }
    }
}

/// Every disagreement between `spec` and the upstream definitions.
fn disagreements(spec: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let upstreams: Vec<Value> = UPSTREAM
        .iter()
        .map(|(_, text)| serde_json::from_str(text).expect("upstream JSON"))
        .collect();
    let models = models(&upstreams);
    for ((name, _), upstream) in UPSTREAM.iter().zip(&upstreams) {
        assert_eq!(
            upstream["name"], *name,
            "tests/upstream/{name}.json holds {}",
            upstream["name"]
        );
        let mut check = Check {
            spec,
            upstream,
            models: &models,
            problems: Vec::new(),
        };
        check.operation(name);
        problems.extend(check.problems);
    }
    problems
}

#[test]
fn the_spec_agrees_with_huaweis_definitions() {
    let problems = disagreements(&spec());
    assert!(
        problems.is_empty(),
        "the spec disagrees with upstream:\n{}",
        problems.join("\n")
    );
}

/// The checker can fail, and says where and how: each mutation of the spec
/// must produce exactly the expected message.
#[test]
fn each_kind_of_drift_is_reported_precisely() {
    let stop = "/v5~1iot~1{project_id}~1batchtasks~1{task_id}~1stop";
    let show = "/v5~1iot~1{project_id}~1batchtasks~1{task_id}";
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation, &str)> = vec![
        (
            "pattern",
            Box::new(|s| s["components"]["schemas"]["TaskId"]["pattern"] = "^[a-f0-9]{1,32}$".into()),
            "StopBatchTask (POST /v5/iot/{project_id}/batchtasks/{task_id}/stop) path parameter `task_id`: pattern: spec \"^[a-f0-9]{1,32}$\", upstream \"^[a-f0-9]{1,24}$\"",
        ),
        (
            "maxLength",
            Box::new(|s| s["components"]["schemas"]["InstanceId"]["maxLength"] = 40.into()),
            "StopBatchTask (POST /v5/iot/{project_id}/batchtasks/{task_id}/stop) header parameter `instance-id`: maxLength: spec Some(Number(40)), upstream Some(Number(36))",
        ),
        (
            "array limit",
            Box::new(|s| s["components"]["schemas"]["BatchTargets"]["properties"]["targets"]["maxItems"] = 1000.into()),
            "StopBatchTask (POST /v5/iot/{project_id}/batchtasks/{task_id}/stop) request body.targets: maxItems: spec Some(1000), upstream Some(100)",
        ),
        (
            "required",
            Box::new(|s| s["paths"][stop.replace("~1", "/")]["post"]["requestBody"]["required"] = true.into()),
            "StopBatchTask (POST /v5/iot/{project_id}/batchtasks/{task_id}/stop) request body: required: spec true, upstream false",
        ),
        (
            "range",
            Box::new(|s| {
                let params = s["paths"][show.replace("~1", "/")]["get"]["parameters"]
                    .as_array_mut()
                    .unwrap();
                let limit = params.iter_mut().find(|p| p["name"] == "limit").unwrap();
                limit["schema"]["maximum"] = 100.into();
            }),
            "ShowBatchTask (GET /v5/iot/{project_id}/batchtasks/{task_id}) query parameter `limit`: maximum: spec Some(Number(100)), upstream Some(Number(50))",
        ),
        (
            "allowed values",
            Box::new(|s| {
                s["components"]["schemas"]["TaskDetailStatus"]["enum"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            }),
            "ShowBatchTask (GET /v5/iot/{project_id}/batchtasks/{task_id}) query parameter `task_detail_status`: allowed values (spec enum, upstream pattern)",
        ),
        (
            "response field",
            Box::new(|s| {
                s["components"]["schemas"]["Page"]["properties"]["count"]["format"] = "int32".into();
            }),
            "ShowBatchTask (GET /v5/iot/{project_id}/batchtasks/{task_id}) response 200.page.count: format: spec Some(String(\"int32\")), upstream Some(String(\"int64\"))",
        ),
        (
            "missing field",
            Box::new(|s| {
                s["components"]["schemas"]["TaskDetail"]["properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("output");
            }),
            "ShowBatchTask (GET /v5/iot/{project_id}/batchtasks/{task_id}) response 200.task_details[].output: in upstream, missing from the spec",
        ),
        (
            "extra parameter",
            Box::new(|s| {
                let params = s["paths"][show.replace("~1", "/")]["get"]["parameters"]
                    .as_array_mut()
                    .unwrap();
                params.push(serde_json::json!({"name": "app_id", "in": "query", "schema": {"type": "string"}}));
            }),
            "ShowBatchTask (GET /v5/iot/{project_id}/batchtasks/{task_id}) query parameter `app_id`: in the spec, not upstream",
        ),
        (
            "required parameter",
            Box::new(|s| {
                let params = s["paths"]["/v5/iot/{project_id}/batchtasks"]["get"]["parameters"]
                    .as_array_mut()
                    .unwrap();
                let task_type = params.iter_mut().find(|p| p["name"] == "task_type").unwrap();
                task_type["required"] = false.into();
            }),
            "ListBatchTasks (GET /v5/iot/{project_id}/batchtasks) query parameter `task_type`: required: spec false, upstream true",
        ),
        (
            "missing status",
            Box::new(|s| {
                s["paths"]["/v5/iot/{project_id}/batchtasks/{task_id}"]["delete"]["responses"]
                    .as_object_mut()
                    .unwrap()
                    .remove("403");
            }),
            "DeleteBatchTask (DELETE /v5/iot/{project_id}/batchtasks/{task_id}) response 403: in upstream, missing from the spec",
        ),
        (
            "request field",
            Box::new(|s| {
                s["components"]["schemas"]["NewTaskPolicy"]["properties"]["retry_count"]["maximum"] = 10.into();
            }),
            "CreateBatchTask (POST /v5/iot/{project_id}/batchtasks) request body.task_policy.retry_count: maximum: spec Some(Number(10)), upstream Some(Number(5))",
        ),
        (
            "prose limit",
            Box::new(|s| {
                s["components"]["schemas"]["NewBatchTask"]["properties"]["targets"]["maxItems"] = 100_000.into();
            }),
            "CreateBatchTask (POST /v5/iot/{project_id}/batchtasks) request body.targets: maxItems: spec Some(100000), upstream None",
        ),
        (
            "method",
            Box::new(|s| {
                let item = s["paths"][stop.replace("~1", "/")].as_object_mut().unwrap();
                let op = item.remove("post").unwrap();
                item.insert("put".into(), op);
            }),
            "StopBatchTask (POST /v5/iot/{project_id}/batchtasks/{task_id}/stop): missing from the spec (path or method differs)",
        ),
    ];
    for (name, mutate, expected) in cases {
        let mut spec = spec();
        mutate(&mut spec);
        let problems = disagreements(&spec);
        // A mutated shared schema is reported once per operation using it;
        // anything else reported means the checker saw drift that is not there.
        let detail = expected.split_once(") ").map_or(expected, |(_, detail)| detail);
        assert!(
            problems.iter().any(|p| p.starts_with(expected)) && problems.iter().all(|p| p.contains(detail)),
            "{name}: expected a message starting {expected:?} and no other drift, got {problems:#?}"
        );
    }
}

/// The spec is the single source of limits: no code line (comments aside)
/// of the three crates restates a pattern, a value list or a numeric bound
/// that `build.rs` emits into `iotda_batchtask::limits`.
#[test]
fn no_limit_is_restated_outside_the_spec() {
    use iotda_batchtask::limits;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let patterns = [
        limits::PROJECT_ID_PATTERN,
        limits::TASK_ID_PATTERN,
        limits::INSTANCE_ID_PATTERN,
        limits::DEVICE_ID_PATTERN,
        limits::MARKER_PATTERN,
        limits::APP_ID_PATTERN,
        limits::TASK_NAME_PATTERN,
        limits::SCHEDULE_TIME_PATTERN,
    ];
    let value_lists: [&[&str]; 3] = [
        &limits::TASK_DETAIL_STATUS_VALUES,
        &limits::TASK_STATUS_VALUES,
        &limits::TASK_TYPE_VALUES,
    ];
    let bounds = [
        limits::BATCH_TARGETS_TARGETS_MAX_ITEMS.to_string(),
        limits::SHOW_BATCH_TASK_LIMIT_MAX.to_string(),
        limits::SHOW_BATCH_TASK_OFFSET_MAX.to_string(),
        limits::DEVICE_ID_MAX_LEN.to_string(),
        limits::NEW_BATCH_TASK_TARGETS_MAX_ITEMS.to_string(),
        limits::NEW_BATCH_TASK_TASK_EXT_INFO_MAX_LEN.to_string(),
        limits::NEW_TASK_POLICY_RETRY_INTERVAL_MAX.to_string(),
    ];
    let mut found = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = ["src", "emulator/src", "cli/src"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let at = || {
                format!(
                    "{}:{}: {}",
                    path.strip_prefix(root).unwrap().display(),
                    n + 1,
                    line.trim()
                )
            };
            let core = |p: &str| p.trim_start_matches('^').trim_end_matches('$').to_owned();
            if patterns.iter().any(|p| code.contains(&core(p))) {
                found.push(at());
            }
            for list in value_lists {
                if list.iter().filter(|v| code.contains(&format!("\"{v}\""))).count() >= 3 {
                    found.push(at());
                }
            }
            // A constant or a range with a spec bound as its literal value.
            let numeric = code.contains("const ") || code.contains("..=");
            if numeric
                && bounds
                    .iter()
                    .any(|b| code.contains(&format!("= {b};")) || code.contains(&format!("..={b}")))
            {
                found.push(at());
            }
        }
    }
    assert!(found.is_empty(), "restated outside the spec:\n{}", found.join("\n"));
}
