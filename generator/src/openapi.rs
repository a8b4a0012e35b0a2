//! The OpenAPI 3.1 document of a module's HTTP API (`GET /openapi.json`),
//! made from the description: `snakebox serve` serves it, and so does a
//! component built with `snakebox build --http`.
//!
//! Each function is one `POST /call/{name}` operation, with a JSON Schema
//! (2020-12, as OpenAPI 3.1 uses) for its arguments, in either body form,
//! and for its result, in the JSON the host reads and writes; named types
//! are `components/schemas`.

use serde_json::{Map, Value, json};

use crate::ir::{Function, Module, Param, ParamKind, Type, TypeDef, TypeDefKind};
use crate::replies::ErrorKind;

/// Every status a call may fail with and what it means; the `error` kinds
/// each carries are the [`ErrorKind`]s of that status (a `422` carries the
/// Python exception instead).
pub const STATUSES: &[(u16, &str)] = &[
    (400, "the body or the arguments do not fit the function"),
    (
        401,
        "the server requires a token (`Authorization: Bearer <token>`), and the request has none or another",
    ),
    (
        403,
        "the request's `Host` or `Origin` is not one the server answers",
    ),
    (404, "no function of that name"),
    (408, "the body did not arrive in time"),
    (413, "the body is larger than the server reads"),
    (
        415,
        "the body is not sent as `Content-Type: application/json`",
    ),
    (422, "Python raised"),
    (
        500,
        "the store ran past its memory limit or trapped (it was replaced), the call was cancelled, or the result is over the server's limit",
    ),
    (
        503,
        "every store is busy and the queue is full; retry after `Retry-After` seconds",
    ),
    (504, "the call ran past its time limit"),
];

/// One `POST /call/{name}` operation.
pub enum Operation<'a> {
    /// A described export: typed schemas from the description.
    Described {
        /// The name callers use.
        call_name: String,
        /// Its module, which holds the named types it uses.
        module: &'a Module,
        /// The export.
        function: &'a Function,
    },
    /// An export the component does not describe: any JSON goes.
    Opaque {
        /// The name callers use.
        call_name: String,
        /// Its WIT signature, for the summary.
        signature: String,
        /// `true` when it returns a stream.
        stream: bool,
    },
}

/// The document of `operations`. `health` is the schema of `GET /healthz`'s
/// reply, which differs between the servers.
pub fn document(operations: &[Operation], health: Value) -> Value {
    let mut modules: Vec<&Module> = Vec::new();
    for operation in operations {
        if let Operation::Described { module, .. } = operation
            && !modules.iter().any(|m| m.wit_name == module.wit_name)
        {
            modules.push(module);
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
    for operation in operations {
        let call_name = match operation {
            Operation::Described { call_name, .. } | Operation::Opaque { call_name, .. } => {
                call_name
            }
        };
        paths.insert(
            format!("/call/{call_name}"),
            json!({ "post": names.operation(operation) }),
        );
    }
    paths.insert("/functions".into(), listing());
    paths.insert(
        "/healthz".into(),
        json!({ "get": {
            "operationId": "healthz",
            "summary": "Reports that the server runs",
            "responses": { "200": {
                "description": "the server's state",
                "content": { "application/json": { "schema": health } },
            } },
        } }),
    );
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
                tuple(items, count, count)
            }
            Type::Dict(key, value) => {
                let pair = vec![self.schema(module, key), self.schema(module, value)];
                let pairs = json!({ "type": "array", "items": tuple(pair, 2, 2) });
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
            // Functions with objects are left out of the document.
            Type::Object(_) => json!({ "not": {} }),
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

/// An array of `least` to `most` items, each with its own schema in
/// order. The item count bounds it, so no `items: false` is needed (some
/// client generators cannot read boolean schemas), and an empty
/// `prefixItems` is never written (JSON Schema requires at least one).
fn tuple(items: Vec<Value>, least: usize, most: usize) -> Value {
    let mut schema = json!({ "type": "array", "minItems": least, "maxItems": most });
    if !items.is_empty() {
        schema["prefixItems"] = Value::Array(items);
    }
    schema
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

impl Names {
    fn operation(&self, operation: &Operation) -> Value {
        let (call_name, summary, docs, body, result, stream) = match operation {
            Operation::Described {
                call_name,
                module,
                function,
            } => (
                call_name,
                function.python_signature(module),
                function.docs.as_deref(),
                self.arguments(module, function),
                self.schema(module, &function.result),
                function.stream,
            ),
            Operation::Opaque {
                call_name,
                signature,
                stream,
            } => (
                call_name,
                signature.clone(),
                None,
                json!({ "description": format!("arguments of `{signature}`") }),
                json!({ "description": "the result, typed by the WIT signature" }),
                *stream,
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
        for (status, description) in STATUSES {
            let schema = match status {
                422 => json!({ "$ref": "#/components/schemas/PythonError" }),
                _ => json!({ "$ref": "#/components/schemas/Error" }),
            };
            responses.insert(
                status.to_string(),
                json!({
                    "description": description,
                    "content": { "application/json": { "schema": schema } },
                }),
            );
        }
        let mut operation = json!({
            "operationId": call_name,
            "summary": format!("Calls `{summary}`"),
            // Always a body, so always `application/json`: a request with
            // none has no content type, and a browser sends that without
            // asking (see the 415).
            "requestBody": {
                "required": true,
                "description": "a JSON array of positional arguments, or an object of named ones; `[]`, `{}` or empty for none",
                "content": { "application/json": { "schema": body } },
            },
            "responses": responses,
        });
        if let Some(docs) = docs {
            operation["description"] = docs.into();
        }
        operation
    }

    /// Either body form: positional arguments in order, or named ones.
    fn arguments(&self, module: &Module, ir: &Function) -> Value {
        let schemas: Vec<Value> = ir.params.iter().map(|p| self.param(module, p)).collect();
        // Positional arguments fill the parameters in order: every one up to
        // the last that may not be left out must be there.
        let least = (0..ir.params.len())
            .rev()
            .find(|index| !ir.params[*index].has_default)
            .map_or(0, |index| index + 1);
        let count = schemas.len();
        json!({
            "oneOf": [
                tuple(schemas, least, count),
                self.named_arguments(module, ir),
            ],
        })
    }

    /// The arguments as one object, by the parameters' Python names.
    fn named_arguments(&self, module: &Module, ir: &Function) -> Value {
        let required: Vec<&str> = ir
            .params
            .iter()
            .filter(|param| !param.has_default)
            .map(|param| param.name.as_str())
            .collect();
        let properties: Map<String, Value> = ir
            .params
            .iter()
            .map(|param| (param.name.clone(), self.param(module, param)))
            .collect();
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }
}

/// The schemas of a function as a tool (MCP): its arguments as one object
/// by parameter name, and its result as `{"result": value}` (a tool's
/// structured result must be an object; a generator's is the list of its
/// items). The same rule as the OpenAPI document's, made self-contained:
/// the module's named types are under `$defs`.
pub fn tool_schemas(module: &Module, function: &Function) -> (Value, Value) {
    let names = Names { qualified: false };
    let item = names.schema(module, &function.result);
    let result = match function.stream {
        true => json!({ "type": "array", "items": item }),
        false => item,
    };
    let mut input = names.named_arguments(module, function);
    let mut output = json!({
        "type": "object",
        "properties": { "result": result },
        "required": ["result"],
        "additionalProperties": false,
    });
    let defs: Map<String, Value> = module
        .types
        .iter()
        .map(|def| (def.wit_name.clone(), names.type_def(module, def)))
        .collect();
    for schema in [&mut input, &mut output] {
        if !defs.is_empty() {
            schema["$defs"] = Value::Object(defs.clone());
        }
        local_refs(schema);
    }
    (input, output)
}

/// Points `#/components/schemas/X` references at `#/$defs/X`.
fn local_refs(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix("#/components/schemas/") {
                            *target = format!("#/$defs/{name}");
                        }
                    }
                    (_, value) => local_refs(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(local_refs),
        _ => {}
    }
}

/// The schema of a Python exception's body (`422`).
pub fn python_error() -> Value {
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

/// The schema of [`ErrorBody`](crate::replies::ErrorBody).
pub fn error_body() -> Value {
    // As serde writes them: the names come from `ErrorKind` alone.
    let kinds: Vec<Value> = ErrorKind::ALL.iter().map(|kind| json!(kind)).collect();
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
