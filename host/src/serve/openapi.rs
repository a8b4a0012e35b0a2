//! `GET /openapi.json`: an OpenAPI 3.1 document of the served component,
//! made from its description, so that client generators and API explorers
//! take a served module as it is.
//!
//! Each function is one `POST /call/{name}` operation, with a JSON Schema
//! (2020-12, as OpenAPI 3.1 uses) for its arguments, in either body form,
//! and for its result, in the JSON the host reads and writes (see
//! `json.rs`); named types are `components/schemas`. A function of a
//! component without a description gets schemas that accept any JSON.

use serde_json::{Map, Value, json};
use snakebox_generator::{Module, Param, ParamKind, Type, TypeDef, TypeDefKind};

use super::reply::STATUSES;
use crate::app::App;
use crate::signature::Function;

/// The document, for `app`.
pub(super) fn document(app: &App) -> Value {
    let functions = app.functions();
    let mut modules: Vec<&Module> = Vec::new();
    for described in functions.iter().filter_map(|f| f.described.as_ref()) {
        if !modules
            .iter()
            .any(|m| m.wit_name == described.module().wit_name)
        {
            modules.push(described.module());
        }
    }
    let names = Names {
        qualified: modules.len() > 1,
    };
    let mut schemas = Map::new();
    for module in &modules {
        for def in &module.types {
            schemas.insert(
                names.type_key(module, &def.wit_name),
                names.type_def(module, def),
            );
        }
    }
    schemas.insert("PythonError".into(), python_error());
    schemas.insert("Error".into(), error_body());
    let mut paths = Map::new();
    for function in functions.iter() {
        paths.insert(
            format!("/call/{}", function.call_name),
            json!({ "post": operation(function, &names) }),
        );
    }
    paths.insert("/functions".into(), listing());
    paths.insert("/healthz".into(), health());
    let title = match modules.as_slice() {
        [module] => module.name.clone(),
        _ => "snakebox component".to_owned(),
    };
    let mut info = json!({ "title": title, "version": env!("CARGO_PKG_VERSION") });
    if let [module] = modules.as_slice()
        && let Some(docs) = &module.docs
    {
        info["description"] = docs.clone().into();
    }
    json!({
        "openapi": "3.1.0",
        "info": info,
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

/// How named types are keyed in `components/schemas`.
struct Names {
    /// Several modules may name a type alike: key them by module too.
    qualified: bool,
}

impl Names {
    fn type_key(&self, module: &Module, wit_name: &str) -> String {
        match self.qualified {
            true => format!("{}.{wit_name}", module.wit_name),
            false => wit_name.to_owned(),
        }
    }

    /// The schema of a value of `ty`, in the JSON the host reads and writes.
    fn schema(&self, module: &Module, ty: &Type) -> Value {
        match ty {
            Type::Int => json!({ "type": "integer", "minimum": i64::MIN, "maximum": i64::MAX }),
            Type::Float => json!({
                "anyOf": [
                    { "type": "number" },
                    { "enum": ["NaN", "Infinity", "-Infinity"] },
                ],
            }),
            Type::Bool => json!({ "type": "boolean" }),
            Type::Str => json!({ "type": "string" }),
            Type::Bytes | Type::ByteArray => json!({
                "anyOf": [
                    { "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 255 } },
                    { "type": "string", "description": "taken as its UTF-8 bytes" },
                ],
            }),
            Type::None => json!({ "type": "null" }),
            Type::List(item) => match item.as_ref() {
                // A list of string-keyed pairs reads and writes as a dict does.
                Type::Tuple(pair) if pair.len() == 2 && is_string_key(module, &pair[0]) => self
                    .schema(
                        module,
                        &Type::Dict(Box::new(pair[0].clone()), Box::new(pair[1].clone())),
                    ),
                _ => json!({ "type": "array", "items": self.schema(module, item) }),
            },
            Type::Tuple(items) => {
                let items: Vec<Value> = items.iter().map(|t| self.schema(module, t)).collect();
                let count = items.len();
                json!({
                    "type": "array",
                    "prefixItems": items,
                    "items": false,
                    "minItems": count,
                })
            }
            Type::Dict(key, value) => {
                let pairs = json!({
                    "type": "array",
                    "items": {
                        "type": "array",
                        "prefixItems": [self.schema(module, key), self.schema(module, value)],
                        "items": false,
                        "minItems": 2,
                    },
                });
                if !is_string_key(module, key) {
                    return pairs;
                }
                // An object, unless a key repeats: then the pairs.
                json!({
                    "anyOf": [
                        {
                            "type": "object",
                            "propertyNames": self.schema(module, key),
                            "additionalProperties": self.schema(module, value),
                        },
                        pairs,
                    ],
                })
            }
            Type::Option(item) => json!({
                "anyOf": [self.schema(module, item), { "type": "null" }],
            }),
            Type::Named(name) => {
                json!({ "$ref": format!("#/components/schemas/{}", self.type_key(module, name)) })
            }
        }
    }

    fn type_def(&self, module: &Module, def: &TypeDef) -> Value {
        let mut schema = match &def.kind {
            TypeDefKind::Record { fields, .. } => {
                let properties: Map<String, Value> = fields
                    .iter()
                    .map(|field| (field.wit_name.clone(), self.schema(module, &field.ty)))
                    .collect();
                // An `option` field may be left out.
                let required: Vec<&str> = fields
                    .iter()
                    .filter(|field| !matches!(field.ty, Type::Option(_)))
                    .map(|field| field.wit_name.as_str())
                    .collect();
                json!({
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                })
            }
            TypeDefKind::Enum { cases, .. } | TypeDefKind::Literal { cases } => {
                let cases: Vec<&str> = cases.iter().map(|c| c.wit_name.as_str()).collect();
                json!({ "type": "string", "enum": cases })
            }
            TypeDefKind::Variant { cases } => {
                // The payload alone, or `{"case": payload}`, which is always read.
                let mut any: Vec<Value> = cases
                    .iter()
                    .map(|case| self.schema(module, &case.ty))
                    .collect();
                any.extend(cases.iter().map(|case| {
                    json!({
                        "type": "object",
                        "properties": { case.wit_name.clone(): self.schema(module, &case.ty) },
                        "required": [case.wit_name],
                        "additionalProperties": false,
                    })
                }));
                json!({ "anyOf": any })
            }
            TypeDefKind::Json => json!({ "description": "any JSON value" }),
        };
        if let Some(docs) = &def.docs {
            schema["description"] = docs.clone().into();
        }
        schema
    }

    /// The schema of one parameter's argument, as the caller gives it.
    fn param(&self, module: &Module, param: &Param) -> Value {
        match param.kind {
            ParamKind::VarPositional => {
                json!({ "type": "array", "items": self.schema(module, &param.ty) })
            }
            ParamKind::VarKeyword => json!({
                "type": "object",
                "additionalProperties": self.schema(module, &param.ty),
            }),
            _ => self.schema(module, &param.ty),
        }
    }
}

/// Keys that JSON writes as an object's keys: strings and enum cases.
fn is_string_key(module: &Module, key: &Type) -> bool {
    match key {
        Type::Str => true,
        Type::Named(name) => matches!(
            module.type_def(name).map(|def| &def.kind),
            Some(TypeDefKind::Enum { .. } | TypeDefKind::Literal { .. })
        ),
        _ => false,
    }
}

fn operation(function: &Function, names: &Names) -> Value {
    let (body, result, stream) = match &function.described {
        Some(described) => {
            let (module, ir) = (described.module(), described.function());
            (
                arguments(function, module, ir, names),
                names.schema(module, &ir.result),
                ir.stream,
            )
        }
        None => (
            json!({ "description": format!("arguments of `{}`", function.wit_signature()) }),
            json!({ "description": "the result, typed by the WIT signature" }),
            function.returns_stream(),
        ),
    };
    let success = match stream {
        true => json!({
            "description": "the items as they come, one JSON line each: `{\"item\": value}`; a failure after the first item ends the body with `{\"error\": body, \"status\": code}`",
            "content": { "application/x-ndjson": { "schema": {
                "oneOf": [
                    { "type": "object", "properties": { "item": result }, "required": ["item"] },
                    {
                        "type": "object",
                        "properties": { "error": {}, "status": { "type": "integer" } },
                        "required": ["error", "status"],
                    },
                ],
            } } },
        }),
        false => json!({
            "description": "the result",
            "content": { "application/json": { "schema": result } },
        }),
    };
    let mut responses = Map::new();
    responses.insert("200".into(), success);
    for (status, description, _) in STATUSES {
        let schema = match status.as_u16() {
            422 => json!({ "$ref": "#/components/schemas/PythonError" }),
            _ => json!({ "$ref": "#/components/schemas/Error" }),
        };
        responses.insert(
            status.as_u16().to_string(),
            json!({
                "description": description,
                "content": { "application/json": { "schema": schema } },
            }),
        );
    }
    let mut operation = json!({
        "operationId": function.call_name,
        "summary": format!("Calls `{}`", function.python_signature().unwrap_or_else(|| function.wit_signature())),
        "requestBody": {
            "required": false,
            "description": "a JSON array of positional arguments, or an object of named ones; empty for none",
            "content": { "application/json": { "schema": body } },
        },
        "responses": responses,
    });
    if let Some(docs) = function.docs() {
        operation["description"] = docs.into();
    }
    operation
}

/// Either body form: positional arguments in order, or named ones.
fn arguments(
    function: &Function,
    module: &Module,
    ir: &snakebox_generator::Function,
    names: &Names,
) -> Value {
    let schemas: Vec<Value> = ir.params.iter().map(|p| names.param(module, p)).collect();
    let required: Vec<&str> = ir
        .params
        .iter()
        .enumerate()
        .filter(|(index, _)| !function.may_omit(*index))
        .map(|(_, param)| param.name.as_str())
        .collect();
    // Positional arguments fill the parameters in order: every one up to
    // the last that may not be left out must be there.
    let least = (0..ir.params.len())
        .rev()
        .find(|index| !function.may_omit(*index))
        .map_or(0, |index| index + 1);
    let properties: Map<String, Value> = ir
        .params
        .iter()
        .zip(&schemas)
        .map(|(param, schema)| (param.name.clone(), schema.clone()))
        .collect();
    let count = schemas.len();
    json!({
        "oneOf": [
            {
                "type": "array",
                "prefixItems": schemas,
                "items": false,
                "minItems": least,
                "maxItems": count,
            },
            {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false,
            },
        ],
    })
}

fn python_error() -> Value {
    json!({
        "description": "the Python exception that escaped the function",
        "type": "object",
        "properties": {
            "type": { "type": "string", "description": "the exception's type name" },
            "message": { "type": "string" },
            "traceback": { "type": "string" },
        },
        "required": ["type", "message", "traceback"],
    })
}

fn error_body() -> Value {
    let kinds: Vec<&str> = STATUSES
        .iter()
        .flat_map(|(_, _, kinds)| kinds.iter().copied())
        .collect();
    json!({
        "type": "object",
        "properties": {
            "error": { "type": "string", "enum": kinds },
            "message": { "type": "string" },
        },
        "required": ["error", "message"],
    })
}

fn listing() -> Value {
    json!({ "get": {
        "operationId": "functions",
        "summary": "Lists the exports: names, parameters, types, docs",
        "responses": { "200": {
            "description": "one entry per function",
            "content": { "application/json": { "schema": { "type": "array", "items": { "type": "object" } } } },
        } },
    } })
}

fn health() -> Value {
    json!({ "get": {
        "operationId": "healthz",
        "summary": "Reports that the server runs, and its load",
        "responses": { "200": {
            "description": "the server's load",
            "content": { "application/json": { "schema": {
                "type": "object",
                "properties": {
                    "status": { "const": "ok" },
                    "workers": { "type": "integer" },
                    "pending": { "type": "integer" },
                    "max_pending": { "type": "integer" },
                    "limits": {
                        "type": "object",
                        "description": "what each call may use: null is no limit",
                        "properties": {
                            "timeout_ms": { "type": ["integer", "null"] },
                            "memory_bytes": { "type": ["integer", "null"] },
                            "max_result_bytes": { "type": "integer" },
                        },
                        "required": ["timeout_ms", "memory_bytes", "max_result_bytes"],
                    },
                },
                "required": ["status", "workers", "pending", "max_pending", "limits"],
            } } },
        } },
    } })
}
