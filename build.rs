//! Generates the IoTDA client from `openapi/iotda-batchtask.yaml` with progenitor.
//!
//! Three files land in `OUT_DIR`: `types.rs` (the request/response types, which
//! need only serde, schemars and regress), `limits.rs` (the spec's limits,
//! patterns and value lists as constants, so no other code restates them) and
//! `client.rs` (the progenitor client, which needs reqwest). Keeping them apart lets a types-only build
//! skip the HTTP stack. Nothing generated is committed: the insta snapshots in
//! `tests/it/generated.rs` lock it instead, so every spec edit shows as a diff.
//!
//! The generation function lives here, not in the library, so the build does
//! not depend on the crate it builds; `tests/it/generated.rs` includes this file
//! as a module to snapshot the output and to feed it broken specs.

use std::fmt;
use std::path::{Path, PathBuf};

/// The spec, relative to the package root.
pub const SPEC_PATH: &str = "openapi/iotda-batchtask.yaml";

#[allow(dead_code)] // `main` is unused when tests include this file as a module.
fn main() {
    println!("cargo::rerun-if-changed={SPEC_PATH}");
    println!("cargo::rerun-if-changed=build.rs");
    if let Err(message) = run() {
        // One line naming the file and the problem, shown as a cargo warning
        // and on stderr; exiting (not panicking) keeps a backtrace out of it.
        println!("cargo::warning={message}");
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

#[allow(dead_code)]
fn run() -> Result<(), String> {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    // Cargo runs build scripts in the package root, so the relative path
    // works and reads best in the message.
    let generated = generate_file(Path::new(SPEC_PATH)).map_err(|e| e.to_string())?;
    write_if_changed(&out_dir.join("types.rs"), &generated.types)?;
    write_if_changed(&out_dir.join("client.rs"), &generated.client)?;
    write_if_changed(&out_dir.join("limits.rs"), &generated.limits)?;
    Ok(())
}

/// Rewriting identical bytes would bump the mtime and recompile for nothing.
#[allow(dead_code)]
fn write_if_changed(path: &Path, contents: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Generated Rust source, pretty-printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The contents of the `types` module.
    pub types: String,
    /// Everything else progenitor emits (`Client`, `builder`, `prelude`), and
    /// each builder's `OperationSpec` (its success, for the send path).
    pub client: String,
    /// The spec's limits, patterns and value lists as constants.
    pub limits: String,
}

/// Why the spec could not be turned into code. `Display` names the file.
#[derive(Debug)]
pub enum GenerateError {
    /// The file could not be read.
    Read { path: String, source: std::io::Error },
    /// The YAML is malformed or is not an OpenAPI 3.0 document (with position).
    Parse { path: String, message: String },
    /// progenitor rejected the document (returned an error or panicked).
    Generate { path: String, message: String },
    /// progenitor produced tokens that are not a Rust file (a progenitor bug).
    Syntax { path: String, message: String },
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "{path}: cannot read the OpenAPI spec: {source}"),
            Self::Parse { path, message } => write!(f, "{path}: not a valid OpenAPI 3.0 document: {message}"),
            Self::Generate { path, message } => write!(f, "{path}: progenitor cannot generate a client: {message}"),
            Self::Syntax { path, message } => write!(f, "{path}: generated code does not parse: {message}"),
        }
    }
}

impl std::error::Error for GenerateError {}

/// Reads and generates the spec at `path`.
pub fn generate_file(path: &Path) -> Result<Generated, GenerateError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| GenerateError::Read {
        path: origin.clone(),
        source,
    })?;
    generate(&text, &origin)
}

/// Generates the client for the spec `text`; `origin` names it in errors.
pub fn generate(text: &str, origin: &str) -> Result<Generated, GenerateError> {
    let spec: openapiv3::OpenAPI = serde_yaml_ng::from_str(text).map_err(|e| GenerateError::Parse {
        path: origin.to_owned(),
        message: e.to_string(),
    })?;

    let mut settings = progenitor::GenerationSettings::new();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        // The `exec` hook hands the built request back to the library, which
        // sends it (src/client/hooks.rs): a client without it would send on
        // its own, so its absence must not compile.
        .with_hooks(progenitor::HooksMode::Expected)
        .with_derive("schemars::JsonSchema")
        .with_derive("PartialEq")
        // Ordered maps: serialising a response gives the same bytes every time.
        .with_map_type("::std::collections::BTreeMap");

    let tokens =
        without_panic_output(|| progenitor::Generator::new(&settings).generate_tokens(&spec)).map_err(|message| {
            GenerateError::Generate {
                path: origin.to_owned(),
                message,
            }
        })?;
    let file: syn::File = syn::parse2(tokens).map_err(|e| GenerateError::Syntax {
        path: origin.to_owned(),
        message: e.to_string(),
    })?;
    let raw: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| GenerateError::Parse {
        path: origin.to_owned(),
        message: e.to_string(),
    })?;
    let limits = limits(&spec, &raw).map_err(|message| GenerateError::Generate {
        path: origin.to_owned(),
        message,
    })?;
    let successes = successes(&spec).map_err(|message| GenerateError::Generate {
        path: origin.to_owned(),
        message,
    })?;
    let mut generated =
        split(file, &string_constraints(&spec), &successes).map_err(|message| GenerateError::Generate {
            path: origin.to_owned(),
            message,
        })?;
    generated.limits = limits;
    Ok(generated)
}

/// Validation keywords the generated `JsonSchema` derives would otherwise
/// drop, keyed by type name and field (`None` for a newtype's only field).
type Constraints = std::collections::BTreeMap<(String, Option<String>), Constraint>;

/// `pattern`, and `minLength`/`maxLength` or `minItems`/`maxItems`.
#[derive(Default)]
struct Constraint {
    pattern: Option<String>,
    min: Option<usize>,
    max: Option<usize>,
}

fn string_constraints(spec: &openapiv3::OpenAPI) -> Constraints {
    use openapiv3::{SchemaKind, Type};
    let mut out = Constraints::new();
    for (name, schema) in spec.components.iter().flat_map(|c| c.schemas.iter()) {
        let Some(schema) = schema.as_item() else { continue };
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(s)) => {
                let c = Constraint {
                    pattern: s.pattern.clone(),
                    min: s.min_length,
                    max: s.max_length,
                };
                out.insert((name.clone(), None), c);
            }
            SchemaKind::Type(Type::Object(o)) => {
                for (field, property) in &o.properties {
                    if let Some(SchemaKind::Type(Type::Array(a))) = property.as_item().map(|p| &p.schema_kind) {
                        let c = Constraint {
                            pattern: None,
                            min: a.min_items,
                            max: a.max_items,
                        };
                        out.insert((name.clone(), Some(field.clone())), c);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// typify enforces a string newtype's pattern and lengths in `FromStr`, but
/// the `JsonSchema` derive would describe a bare string (and arrays without
/// their item limits). Annotate the fields so the published JSON Schema
/// carries the spec's constraints.
fn annotate_schema_constraints(item: &mut syn::Item, constraints: &Constraints) {
    let syn::Item::Struct(s) = item else { return };
    let type_name = s.ident.to_string();
    for (index, field) in s.fields.iter_mut().enumerate() {
        let key = (type_name.clone(), field.ident.as_ref().map(ToString::to_string));
        let Some(c) = constraints.get(&key) else { continue };
        if key.1.is_none() && index > 0 {
            continue;
        }
        if let Some(pattern) = &c.pattern {
            field.attrs.push(syn::parse_quote!(#[schemars(pattern(#pattern))]));
        }
        match (c.min, c.max) {
            (Some(min), Some(max)) => field
                .attrs
                .push(syn::parse_quote!(#[schemars(length(min = #min, max = #max))])),
            (Some(min), None) => field.attrs.push(syn::parse_quote!(#[schemars(length(min = #min))])),
            (None, Some(max)) => field.attrs.push(syn::parse_quote!(#[schemars(length(max = #max))])),
            (None, None) => {}
        }
    }
}

/// Runs progenitor, turning both its errors and its panics (it asserts on
/// some unsupported shapes, e.g. differing error schemas) into a message.
fn without_panic_output<T, E: fmt::Display>(f: impl FnOnce() -> Result<T, E>) -> Result<T, String> {
    // The panic hook is process-wide: tests that include this file run
    // generations in parallel, and overlapping swaps could leave it silent.
    static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _swap = HOOK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => Err(payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "progenitor panicked".to_owned())),
    }
}

/// Huawei adds response fields and enum values over time. `#[non_exhaustive]`
/// on the generated structs (with named fields) and enums makes regenerating
/// after such an addition a minor change for downstream crates instead of a
/// breaking one: they build values with `Default` or the generated builders,
/// and match enums with a wildcard arm.
fn mark_non_exhaustive(item: &mut syn::Item) {
    match item {
        syn::Item::Struct(s) if matches!(s.fields, syn::Fields::Named(_)) => {
            s.attrs.push(syn::parse_quote!(#[non_exhaustive]))
        }
        syn::Item::Enum(e) => e.attrs.push(syn::parse_quote!(#[non_exhaustive])),
        _ => {}
    }
}

/// `impl E { pub const ALL: [Self; N] }` for an enumeration of plain values,
/// so code can walk every status or type the spec knows without listing them.
fn all_values_of(item: &syn::Item) -> Option<syn::Item> {
    let syn::Item::Enum(e) = item else { return None };
    if e.variants.iter().any(|v| !matches!(v.fields, syn::Fields::Unit)) {
        return None;
    }
    let name = &e.ident;
    let variants: Vec<&syn::Ident> = e.variants.iter().map(|v| &v.ident).collect();
    let wire: Vec<String> = e.variants.iter().map(wire_name).collect();
    let count = proc_macro2::Literal::usize_unsuffixed(e.variants.len());
    Some(syn::parse_quote! {
        impl #name {
            /// Every value, in the spec's order.
            pub const ALL: [Self; #count] = [#(Self::#variants),*];

            /// The value as sent on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    #(Self::#variants => #wire,)*
                }
            }
        }
    })
}

/// typify's `FromStr` for an enumeration fails with a bare "invalid value";
/// make it name the value and the expected ones, so a newer server's status
/// is diagnosable from the message alone.
fn name_the_value_in_parse_errors(item: &mut syn::Item, enums: &std::collections::BTreeMap<String, Vec<String>>) {
    let syn::Item::Impl(imp) = item else { return };
    let is_from_str = imp
        .trait_
        .as_ref()
        .and_then(|(path, _)| path.segments.last())
        .is_some_and(|s| s.ident == "FromStr");
    let syn::Type::Path(self_ty) = imp.self_ty.as_ref() else {
        return;
    };
    let Some(values) = self_ty.path.get_ident().and_then(|name| enums.get(&name.to_string())) else {
        return;
    };
    if !is_from_str {
        return;
    }
    let expected = values.join(", ");
    for impl_item in &mut imp.items {
        let syn::ImplItem::Fn(f) = impl_item else { continue };
        let Some(syn::Stmt::Expr(syn::Expr::Match(m), None)) = f.block.stmts.last_mut() else {
            continue;
        };
        if let Some(arm) = m.arms.last_mut()
            && matches!(arm.pat, syn::Pat::Wild(_))
        {
            *arm.body = syn::parse_quote! {
                Err(format!("invalid value {:?}; expected one of {}", value, #expected).into())
            };
        }
    }
}

/// typify's `types::builder` structs and their setters carry no rustdoc;
/// give each one a line that links the type or field it sets and says how
/// the setter converts (owned values: `String`, not `&str`) and when a failed
/// conversion shows (at `try_into()`).
fn document_builders(item: &mut syn::Item) {
    let syn::Item::Mod(module) = item else { return };
    if module.ident != "builder" {
        return;
    }
    let Some((_, items)) = module.content.as_mut() else {
        return;
    };
    let undocumented = |attrs: &[syn::Attribute]| !attrs.iter().any(|a| a.path().is_ident("doc"));
    for item in items {
        match item {
            syn::Item::Struct(s) if undocumented(&s.attrs) => {
                let doc = format!(
                    " Builds a [`{0}`](super::{0}) field by field; start from \
                     [`{0}::builder`](super::{0}::builder), finish with `try_into()`.",
                    s.ident
                );
                s.attrs.push(syn::parse_quote!(#[doc = #doc]));
            }
            syn::Item::Impl(imp) if imp.trait_.is_none() => {
                let syn::Type::Path(ty) = imp.self_ty.as_ref() else {
                    continue;
                };
                let Some(name) = ty.path.get_ident().map(ToString::to_string) else {
                    continue;
                };
                for impl_item in &mut imp.items {
                    let syn::ImplItem::Fn(f) = impl_item else { continue };
                    if !undocumented(&f.attrs) {
                        continue;
                    }
                    let field = f.sig.ident.to_string();
                    let doc = format!(
                        " Sets [`{name}::{field}`](super::{name}::{field}). Takes anything that converts into \
                         the field's type (an owned `String` for text); a value that fails to convert makes \
                         `try_into()` fail, naming the field."
                    );
                    f.attrs.push(syn::parse_quote!(#[doc = #doc]));
                }
            }
            _ => {}
        }
    }
}

/// A unit variant's wire value: its `#[serde(rename = "...")]`, else its name.
fn wire_name(variant: &syn::Variant) -> String {
    let mut renamed = None;
    for attr in variant.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                renamed = Some(meta.value()?.parse::<syn::LitStr>()?.value());
            }
            Ok(())
        });
    }
    renamed.unwrap_or_else(|| variant.ident.to_string())
}

/// Splits progenitor's single file into the `types` module's contents and the
/// rest, to which it adds each builder's `OperationSpec` (see `successes`).
fn split(file: syn::File, constraints: &Constraints, successes: &[Success]) -> Result<Generated, String> {
    let mut types = Vec::new();
    let mut client = Vec::new();
    let mut builders = Vec::new();
    for item in file.items {
        match item {
            syn::Item::Mod(module) if module.ident == "builder" => {
                let items = module
                    .content
                    .as_ref()
                    .map(|(_, items)| items.as_slice())
                    .unwrap_or_default();
                builders.extend(items.iter().filter_map(|item| match item {
                    syn::Item::Struct(s) => Some(s.ident.to_string()),
                    _ => None,
                }));
                client.push(syn::Item::Mod(module));
            }
            syn::Item::Mod(module) if module.ident == "types" => {
                let mut items = module.content.map(|(_, items)| items).unwrap_or_default();
                let mut all_values = Vec::new();
                for item in &mut items {
                    annotate_schema_constraints(item, constraints);
                    mark_non_exhaustive(item);
                    all_values.extend(all_values_of(item));
                }
                let enums: std::collections::BTreeMap<String, Vec<String>> = items
                    .iter()
                    .filter_map(|item| match item {
                        syn::Item::Enum(e) if e.variants.iter().all(|v| matches!(v.fields, syn::Fields::Unit)) => {
                            Some((e.ident.to_string(), e.variants.iter().map(wire_name).collect()))
                        }
                        _ => None,
                    })
                    .collect();
                for item in &mut items {
                    name_the_value_in_parse_errors(item, &enums);
                    document_builders(item);
                }
                types.extend(items);
                types.extend(all_values);
            }
            other => client.push(other),
        }
    }
    for success in successes {
        client.push(operation_spec(success, &builders)?);
    }
    let render = |items| {
        prettyplease::unparse(&syn::File {
            shebang: None,
            frontmatter: None,
            attrs: Vec::new(),
            items,
        })
    };
    Ok(Generated {
        types: render(types),
        client: render(client),
        limits: String::new(),
    })
}

/// One operation's documented success: what the library's send path needs
/// of the spec and the generated builders do not expose (it reads answers
/// itself, see src/client/send.rs).
struct Success {
    operation_id: String,
    status: u16,
    /// Whether the answer has content (a JSON body), or none (`()`).
    body: bool,
}

/// Every operation's one success status. The library reads an answer by it,
/// so the spec must give exactly one 2xx code. The `exec` hook hands the
/// request back under status 999, which no arm of the generated `send` may
/// match: so no `default` response, and no status outside 100 to 599.
fn successes(spec: &openapiv3::OpenAPI) -> Result<Vec<Success>, String> {
    use openapiv3::{ReferenceOr, StatusCode};
    let mut out = Vec::new();
    for (path, method, operation) in spec.operations() {
        let place = format!("paths.{path}.{method}");
        let Some(operation_id) = &operation.operation_id else {
            return Err(format!("{place} has no operationId"));
        };
        if operation.responses.default.is_some() {
            return Err(format!("{place} has a `default` response: list its statuses instead"));
        }
        if let Some(code) = operation.responses.responses.keys().find_map(|code| match code {
            StatusCode::Code(code) if !(100..600).contains(code) => Some(code),
            _ => None,
        }) {
            return Err(format!("{place} lists status {code}, not an HTTP status (100 to 599)"));
        }
        let mut success = operation.responses.responses.iter().filter(|(code, _)| match code {
            StatusCode::Code(code) => (200..300).contains(code),
            StatusCode::Range(range) => *range == 2,
        });
        let (Some((StatusCode::Code(status), response)), None) = (success.next(), success.next()) else {
            return Err(format!("{place} must document exactly one 2xx status (not a range)"));
        };
        let response = match response {
            ReferenceOr::Item(response) => Some(response),
            ReferenceOr::Reference { reference } => reference
                .strip_prefix("#/components/responses/")
                .and_then(|name| spec.components.as_ref()?.responses.get(name)?.as_item()),
        };
        let Some(response) = response else {
            return Err(format!("{place}: the {status} response's $ref does not resolve"));
        };
        out.push(Success {
            operation_id: operation_id.clone(),
            status: *status,
            body: !response.content.is_empty(),
        });
    }
    Ok(out)
}

/// `impl OperationSpec for builder::<Op>`: the operation's name and success.
/// The builder is progenitor's name for the operation ID (its case and
/// separators changed), found among the generated ones.
fn operation_spec(success: &Success, builders: &[String]) -> Result<syn::Item, String> {
    let plain = |name: &str| -> String {
        name.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let id = &success.operation_id;
    let Some(builder) = builders.iter().find(|b| plain(b) == plain(id)) else {
        return Err(format!("no generated builder for operation {id}"));
    };
    let builder = quote::format_ident!("{builder}");
    let (status, body) = (success.status, success.body);
    let doc = format!(
        " {id} answers {status} {}.",
        if body { "with a JSON body" } else { "with no content" }
    );
    Ok(syn::parse_quote! {
        #[doc = #doc]
        impl crate::client::send::OperationSpec for builder::#builder<'_> {
            const NAME: &'static str = #id;
            const SUCCESS: crate::client::send::Success = crate::client::send::Success { status: #status, body: #body };
        }
    })
}

/// `SHOUTY_SNAKE` from `CamelCase` or `snake_case` names.
fn shouty(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(if c == '-' { '_' } else { c.to_ascii_uppercase() });
    }
    out
}

/// The spec's limits as Rust constants (the `limits` module): for every
/// integer query parameter its bounds and default, for every array property
/// its item bounds, for every integer property its bounds, for every object
/// property with a `maxLength` that length, for every string schema its pattern and length bounds
/// (and, where the pattern is one character class with a length, a byte
/// predicate), and for every string enumeration its values. Each constant's
/// doc names where in the spec it comes from.
fn limits(spec: &openapiv3::OpenAPI, raw: &serde_yaml_ng::Value) -> Result<String, String> {
    use openapiv3::{Parameter, ReferenceOr, SchemaKind, Type};
    use std::fmt::Write as _;

    let mut out = String::new();
    fn constant(out: &mut String, doc: &str, name: &str, ty: &str, value: &str) {
        let _ = writeln!(out, "/// {doc}\npub const {name}: {ty} = {value};");
    }
    for (path, item) in &spec.paths.paths {
        let Some(item) = item.as_item() else { continue };
        for (_, operation) in item.iter() {
            let Some(operation_id) = &operation.operation_id else {
                continue;
            };
            for parameter in &operation.parameters {
                let Some(Parameter::Query { parameter_data, .. }) = parameter.as_item() else {
                    continue;
                };
                let openapiv3::ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) = &parameter_data.format
                else {
                    continue;
                };
                let SchemaKind::Type(Type::Integer(integer)) = &schema.schema_kind else {
                    continue;
                };
                let prefix = format!("{}_{}", shouty(operation_id), shouty(&parameter_data.name));
                let place = format!("`{}` of {operation_id} (`{path}`)", parameter_data.name);
                if let Some(min) = integer.minimum {
                    constant(
                        &mut out,
                        &format!("The least {place}."),
                        &format!("{prefix}_MIN"),
                        "u32",
                        &min.to_string(),
                    );
                }
                if let Some(max) = integer.maximum {
                    constant(
                        &mut out,
                        &format!("The greatest {place}."),
                        &format!("{prefix}_MAX"),
                        "u32",
                        &max.to_string(),
                    );
                }
                if let Some(default) = schema.schema_data.default.as_ref().and_then(|d| d.as_u64()) {
                    let doc = format!("The server's default {place}.");
                    constant(
                        &mut out,
                        &doc,
                        &format!("{prefix}_DEFAULT"),
                        "u32",
                        &default.to_string(),
                    );
                }
            }
        }
    }
    for (name, schema) in spec.components.iter().flat_map(|c| c.schemas.iter()) {
        let Some(schema) = schema.as_item() else { continue };
        match &schema.schema_kind {
            SchemaKind::Type(Type::Object(object)) => {
                for (field, property) in &object.properties {
                    let prefix = format!("{}_{}", shouty(name), shouty(field));
                    let kind = property.as_item().map(|p| &p.schema_kind);
                    if let Some(SchemaKind::Type(Type::Integer(integer))) = kind {
                        if let Some(min) = integer.minimum {
                            let doc = format!("The least `{name}.{field}`.");
                            constant(&mut out, &doc, &format!("{prefix}_MIN"), "u32", &min.to_string());
                        }
                        if let Some(max) = integer.maximum {
                            let doc = format!("The greatest `{name}.{field}`.");
                            constant(&mut out, &doc, &format!("{prefix}_MAX"), "u32", &max.to_string());
                        }
                        continue;
                    }
                    // `maxLength` on an object (Huawei's `task_ext_info`): the
                    // length of its JSON text.
                    // openapiv3 drops it from an object schema, so it is read
                    // from the document itself.
                    let raw_property = &raw["components"]["schemas"][name.as_str()]["properties"][field.as_str()];
                    let object_max_length = (raw_property["type"].as_str() == Some("object"))
                        .then(|| raw_property["maxLength"].as_u64())
                        .flatten();
                    if let Some(max) = object_max_length {
                        let doc = format!("The longest `{name}.{field}`, in characters of its JSON text.");
                        constant(&mut out, &doc, &format!("{prefix}_MAX_LEN"), "usize", &max.to_string());
                        continue;
                    }
                    let Some(SchemaKind::Type(Type::Array(array))) = kind else {
                        continue;
                    };
                    if let Some(min) = array.min_items {
                        let doc = format!("The fewest items of `{name}.{field}`.");
                        constant(
                            &mut out,
                            &doc,
                            &format!("{prefix}_MIN_ITEMS"),
                            "usize",
                            &min.to_string(),
                        );
                    }
                    if let Some(max) = array.max_items {
                        let doc = format!("The most items of `{name}.{field}`.");
                        constant(
                            &mut out,
                            &doc,
                            &format!("{prefix}_MAX_ITEMS"),
                            "usize",
                            &max.to_string(),
                        );
                    }
                }
            }
            SchemaKind::Type(Type::String(string)) if !string.enumeration.is_empty() => {
                let values: Vec<String> = string.enumeration.iter().flatten().map(|v| format!("{v:?}")).collect();
                constant(
                    &mut out,
                    &format!("Every value of `{name}`, in the spec's order."),
                    &format!("{}_VALUES", shouty(name)),
                    &format!("[&str; {}]", values.len()),
                    &format!("[{}]", values.join(", ")),
                );
            }
            SchemaKind::Type(Type::String(string)) => {
                let Some(pattern) = &string.pattern else { continue };
                let prefix = shouty(name);
                constant(
                    &mut out,
                    &format!("The pattern of `{name}`."),
                    &format!("{prefix}_PATTERN"),
                    "&str",
                    &format!("{pattern:?}"),
                );
                // The pattern in words, for errors a person reads: the spec
                // says it next to the pattern, so a limit changes in one place.
                let Some(rule) = schema.schema_data.extensions.get("x-rule").and_then(|r| r.as_str()) else {
                    return Err(format!(
                        "components.schemas.{name} has a pattern but no `x-rule` (the pattern in words, for errors)"
                    ));
                };
                constant(
                    &mut out,
                    &format!("The pattern of `{name}` in words (the spec's `x-rule`)."),
                    &format!("{prefix}_RULE"),
                    "&str",
                    &format!("{rule:?}"),
                );
                let _ = writeln!(
                    out,
                    "impl crate::validation::SpecPattern for crate::types::{name} {{ \
                     const PATTERN: &'static str = {prefix}_PATTERN; const RULE: &'static str = {prefix}_RULE; }}"
                );
                let class = byte_class(pattern);
                let min = string.min_length.or(class.as_ref().map(|c| c.min));
                let max = string.max_length.or(class.as_ref().and_then(|c| c.max));
                // A one-class ASCII pattern makes characters bytes; otherwise
                // (`TaskName` admits Chinese) the lengths count characters.
                let unit = if class.is_some() { "bytes" } else { "characters" };
                if let Some(min) = min {
                    constant(
                        &mut out,
                        &format!("The shortest `{name}`, in {unit}."),
                        &format!("{prefix}_MIN_LEN"),
                        "usize",
                        &min.to_string(),
                    );
                }
                if let Some(max) = max {
                    constant(
                        &mut out,
                        &format!("The longest `{name}`, in {unit}."),
                        &format!("{prefix}_MAX_LEN"),
                        "usize",
                        &max.to_string(),
                    );
                }
                if let Some(class) = class {
                    let snake = shouty(name).to_ascii_lowercase();
                    let _ = writeln!(
                        out,
                        "/// Whether `byte` may appear in `{name}` (the character class of `{pattern}`).\n\
                         pub const fn is_{snake}_byte(byte: u8) -> bool {{ matches!(byte, {}) }}",
                        class.arms
                    );
                }
            }
            _ => {}
        }
    }
    let file: syn::File = syn::parse_str(&out).map_err(|e| format!("the limits module does not parse: {e}"))?;
    Ok(prettyplease::unparse(&file))
}

/// A pattern of the form `^[class]{m,n}$` (or `+`): the class as `matches!`
/// arms over bytes, and the length bounds.
struct ByteClass {
    arms: String,
    min: usize,
    max: Option<usize>,
}

fn byte_class(pattern: &str) -> Option<ByteClass> {
    let body = pattern.strip_prefix("^[")?.strip_suffix('$')?;
    let (class, quantifier) = body.split_once(']')?;
    let (min, max) = match quantifier {
        "+" => (1, None),
        "*" => (0, None),
        q => {
            let inner = q.strip_prefix('{')?.strip_suffix('}')?;
            match inner.split_once(',') {
                Some((lo, hi)) => (lo.parse().ok()?, Some(hi.parse().ok()?)),
                None => {
                    let n = inner.parse().ok()?;
                    (n, Some(n))
                }
            }
        }
    };
    let chars: Vec<char> = class.chars().collect();
    if chars.iter().any(|c| !c.is_ascii() || matches!(c, '\\' | '[' | '^')) {
        return None;
    }
    let mut arms = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' {
            arms.push(format!("b{:?}..=b{:?}", chars[i], chars[i + 2]));
            i += 3;
        } else {
            arms.push(format!("b{:?}", chars[i]));
            i += 1;
        }
    }
    Some(ByteClass {
        arms: arms.join(" | "),
        min,
        max,
    })
}
