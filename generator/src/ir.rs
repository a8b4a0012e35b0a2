//! The small intermediate form between Python source and the emitted files.
//!
//! It is also what a built component carries as its description (see
//! [`crate::description`]), so its serialized form is versioned there.

use serde::{Deserialize, Serialize};

/// One Python module's exported surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Module {
    /// The Python module name, as `import` sees it (`async_demo`).
    pub name: String,
    /// The module's name in WIT (`async-demo`), used for the package,
    /// the interface and the world.
    pub wit_name: String,
    /// The module docstring.
    pub docs: Option<String>,
    /// The exported functions, in source order.
    pub functions: Vec<Function>,
    /// The named WIT types the functions use, each after the types it uses.
    pub types: Vec<TypeDef>,
    /// The module's classes that become WIT resources, in source order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<Class>,
}

/// A class of the module, exported as a WIT `resource`: Python objects
/// that stay in the sandbox, reached by handle, with methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Class {
    /// The Python class name (`Account`).
    pub name: String,
    /// The WIT resource name (`account`), without `%` escaping.
    pub wit_name: String,
    /// The class docstring.
    pub docs: Option<String>,
    /// `__init__`, without `self`: the resource's constructor, whose result
    /// is `result<own<class>, python-error>`, so that an `__init__` that
    /// raises is a Python error. Its `result` is the class itself.
    pub constructor: Function,
    /// The public methods, each without `self`, in source order.
    pub methods: Vec<Method>,
    /// The line of the `class`, 1-based.
    pub line: u32,
}

/// One member of a class, as WIT exports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// The function, without `self` (or `cls`).
    pub function: Function,
    /// How Python binds it.
    pub kind: MethodKind,
}

/// How a class member is bound, which decides its WIT form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// A plain method: a WIT method on a borrowed object.
    Instance,
    /// `@staticmethod`: a WIT `static` function.
    Static,
    /// `@classmethod`: a WIT `static` function; Python passes the class.
    Class,
}

impl Class {
    /// Finds a member by its Python or WIT name.
    pub fn method(&self, name: &str) -> Option<&Method> {
        self.methods
            .iter()
            .find(|m| m.function.name == name || m.function.wit_name == name)
    }
}

/// A named WIT type: a record, an enum or a variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeDef {
    /// The WIT name (`point`), without `%` escaping.
    pub wit_name: String,
    /// The class docstring, for classes of the module.
    pub docs: Option<String>,
    /// What it is.
    pub kind: TypeDefKind,
}

/// What a named WIT type is, and where its Python side comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeDefKind {
    /// A `@dataclass`, `TypedDict` or `NamedTuple` of the module.
    Record {
        /// The class name in the module.
        class: String,
        /// How the class holds its fields.
        style: RecordStyle,
        /// The fields, in order.
        fields: Vec<Field>,
    },
    /// An `enum.Enum` subclass of the module.
    Enum {
        /// The class name in the module.
        class: String,
        /// The members, by name.
        cases: Vec<Case>,
    },
    /// `Literal["a", "b"]`.
    Literal {
        /// The literal strings.
        cases: Vec<Case>,
    },
    /// `Union[A, B]` / `A | B` with no `None` among its members.
    Variant {
        /// One case per member type, in order.
        cases: Vec<VariantCase>,
    },
    /// `Any` / `object`: a record with one string field of JSON text.
    Json,
}

/// How the Python class of a record holds its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStyle {
    /// A `@dataclass`: built by keyword, read by attribute.
    Dataclass,
    /// A `TypedDict`: a plain `dict` by key.
    TypedDict,
    /// A `NamedTuple`: built by keyword, read by attribute.
    NamedTuple,
}

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The Python name.
    pub name: String,
    /// The WIT name, without `%` escaping.
    pub wit_name: String,
    /// The WIT type; an `option` around the annotation when `optional`.
    pub ty: Type,
    /// A `TypedDict` key that may be absent (`NotRequired`, `total=False`).
    pub optional: bool,
}

/// One case of an enum: its Python spelling (member name or literal
/// string) and its WIT name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The member name, or the literal string.
    pub python: String,
    /// The WIT case name.
    pub wit_name: String,
}

/// One case of a variant, carrying a value of `ty`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantCase {
    /// The WIT case name (`int`, `point`).
    pub wit_name: String,
    /// The type of the case's value.
    pub ty: Type,
}

/// The WIT name of the record that carries `Any` as JSON text (unless a
/// function has that name).
pub const JSON_TYPE: &str = "json-value";
/// The one field of that record: the JSON text.
pub const JSON_FIELD: &str = "json-text";

/// One exported function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    /// The Python name (`slow_answer`).
    pub name: String,
    /// The WIT name (`slow-answer`), without `%` escaping.
    pub wit_name: String,
    /// `true` when the function is a WIT `async func`.
    pub is_async: bool,
    /// `true` for an `async def` (a coroutine or an async generator).
    pub async_def: bool,
    /// `true` for a generator or iterator (sync or async): `result` is then
    /// the type of each item, and the WIT result is a `stream<string>` of
    /// the items as JSON text, from an `async func`.
    pub stream: bool,
    /// The parameters, in order.
    pub params: Vec<Param>,
    /// What the function returns; [`Type::None`] for no value.
    pub result: Type,
    /// The function docstring.
    pub docs: Option<String>,
    /// The line of the `def`, 1-based.
    pub line: u32,
    /// The column of the `def`, 1-based.
    pub column: u32,
}

/// How Python accepts a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// Before `/`.
    Positional,
    /// A plain parameter: by position or by name.
    PositionalOrKeyword,
    /// After `*` or `*args`.
    Keyword,
    /// `*args: T`, carried as `option<list<T>>` (left out: no arguments).
    VarPositional,
    /// `**kwargs: T`, carried as `option<list<tuple<string, T>>>`.
    VarKeyword,
}

/// One parameter of an exported function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// The Python name.
    pub name: String,
    /// The WIT name, without `%` escaping.
    pub wit_name: String,
    /// How Python accepts it.
    pub kind: ParamKind,
    /// The annotated type (for `*args: T`, the type of one item).
    pub ty: Type,
    /// `true` when Python has a default; the caller may then omit it, and
    /// the WIT parameter is an `option`.
    pub has_default: bool,
}

/// The one rule for keyword arguments, on every surface (the CLI,
/// `snakebox serve`, `--http`, OpenAPI, the typed bindings): a caller's
/// `key` names a parameter by its Python name (`pageURL`), its WIT name
/// (`page-url`), or its WIT name in snake_case (`page_url`). Without a
/// description only the WIT forms are known.
pub fn keyword_names(key: &str, python_name: Option<&str>, wit_name: &str) -> bool {
    python_name == Some(key)
        || key == wit_name
        || (key.len() == wit_name.len()
            && key
                .bytes()
                .zip(wit_name.bytes())
                .all(|(k, w)| k == w || (k == b'_' && w == b'-')))
}

impl Param {
    /// Whether a caller's keyword `key` names this parameter; see
    /// [`keyword_names`].
    pub fn is_named(&self, key: &str) -> bool {
        keyword_names(key, Some(&self.name), &self.wit_name)
    }

    /// The type the parameter has in WIT, after `*args`, `**kwargs` and
    /// defaults are taken into account.
    pub fn wit_type(&self) -> Type {
        let ty = match self.kind {
            ParamKind::VarPositional => Type::List(Box::new(self.ty.clone())),
            ParamKind::VarKeyword => Type::Dict(Box::new(Type::Str), Box::new(self.ty.clone())),
            _ => self.ty.clone(),
        };
        if self.has_default {
            Type::Option(Box::new(ty))
        } else {
            ty
        }
    }
}

/// A value type that crosses between Rust and Python.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    /// `int`, carried as `s64`.
    Int,
    /// `float`, carried as `f64`.
    Float,
    /// `bool`.
    Bool,
    /// `str`, carried as `string`.
    Str,
    /// `bytes`, carried as `list<u8>`.
    Bytes,
    /// `bytearray`, carried as `list<u8>` like `bytes`; Python gets a
    /// `bytearray`.
    ByteArray,
    /// `None`: no value.
    None,
    /// `list[T]` and the other sequences.
    List(Box<Type>),
    /// `tuple[A, B]`.
    Tuple(Vec<Type>),
    /// `dict[K, V]`, carried as `list<tuple<K, V>>`.
    Dict(Box<Type>, Box<Type>),
    /// `Optional[T]`.
    Option(Box<Type>),
    /// A [`TypeDef`] of the module, by WIT name.
    Named(String),
    /// An object of a [`Class`] of the module, by WIT name: a
    /// `borrow<class>` as a parameter, an `own<class>` as a result.
    Object(String),
}

impl Type {
    /// Calls `visit` on every WIT type name (of a named type or a class)
    /// this type refers to, mutably.
    pub(crate) fn names_mut(&mut self, visit: &mut impl FnMut(&mut String)) {
        match self {
            Type::List(item) | Type::Option(item) => item.names_mut(visit),
            Type::Tuple(items) => items.iter_mut().for_each(|item| item.names_mut(visit)),
            Type::Dict(key, value) => {
                key.names_mut(visit);
                value.names_mut(visit);
            }
            Type::Named(name) | Type::Object(name) => visit(name),
            _ => {}
        }
    }

    /// The class of the first object this type carries, if any, looking
    /// through lists, options, tuples and dicts (named types never hold
    /// objects: the reader refuses that).
    pub fn object_class(&self) -> Option<&str> {
        match self {
            Type::Object(class) => Some(class),
            Type::List(item) | Type::Option(item) => item.object_class(),
            Type::Tuple(items) => items.iter().find_map(Type::object_class),
            Type::Dict(key, value) => key.object_class().or_else(|| value.object_class()),
            _ => None,
        }
    }
}

impl Function {
    /// Where the function takes or gives an object, which JSON cannot
    /// hold: the parameter's Python name (`None` for the result) and the
    /// class's WIT name. The one rule that keeps such functions off the
    /// JSON surfaces (the CLI, `serve`, `--http`, OpenAPI).
    pub fn object_use(&self) -> Option<(Option<&str>, &str)> {
        self.params
            .iter()
            .find_map(|p| {
                p.ty.object_class()
                    .map(|class| (Some(p.name.as_str()), class))
            })
            .or_else(|| self.result.object_class().map(|class| (None, class)))
    }

    /// Why the function is not on the JSON surfaces, when it takes or
    /// gives an object: the one message the CLI, `call_json`, `serve` and
    /// `--http` give, naming the function as callers do (`call_name`).
    /// `None` for a function JSON can call.
    pub fn json_refusal(&self, module: &Module, call_name: &str) -> Option<String> {
        let (param, class) = self.object_use()?;
        let class = module
            .classes
            .iter()
            .find(|c| c.wit_name == class)
            .map_or(class, |c| c.name.as_str());
        let role = match param {
            Some(param) => format!("takes an object of class `{class}` (parameter `{param}`)"),
            None => format!("returns an object of class `{class}`"),
        };
        Some(format!(
            "`{call_name}` {role}, which JSON cannot hold: objects stay in the sandbox; \
             call it from Rust, with `snakebox::Object` or the typed bindings"
        ))
    }
}
