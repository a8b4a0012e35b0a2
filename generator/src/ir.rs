//! The small intermediate form between Python source and the emitted files.

/// One Python module's exported surface.
#[derive(Debug, Clone, PartialEq)]
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
}

/// One exported function.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// The Python name (`slow_answer`).
    pub name: String,
    /// The WIT name (`slow-answer`), without `%` escaping.
    pub wit_name: String,
    /// `true` when the function is a WIT `async func`.
    pub is_async: bool,
    pub params: Vec<Param>,
    /// What the function returns; [`Type::None`] for no value.
    pub result: Type,
    /// The function docstring.
    pub docs: Option<String>,
    /// Where the `def` is, 1-based.
    pub line: u32,
    pub column: u32,
}

/// How Python accepts a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Before `/`.
    Positional,
    PositionalOrKeyword,
    /// After `*` or `*args`.
    Keyword,
    /// `*args: T`, carried as `list<T>`.
    VarPositional,
    /// `**kwargs: T`, carried as `list<tuple<string, T>>`.
    VarKeyword,
}

/// One parameter of an exported function.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub wit_name: String,
    pub kind: ParamKind,
    /// The annotated type (for `*args: T`, the type of one item).
    pub ty: Type,
    /// `true` when Python has a default; the caller may then omit it, and
    /// the WIT parameter is an `option`.
    pub has_default: bool,
}

impl Param {
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// `int`, carried as `s64`.
    Int,
    /// `float`, carried as `f64`.
    Float,
    Bool,
    Str,
    /// `bytes` or `bytearray`, carried as `list<u8>`.
    Bytes,
    /// `None`: no value.
    None,
    List(Box<Type>),
    Tuple(Vec<Type>),
    /// Carried as `list<tuple<K, V>>`.
    Dict(Box<Type>, Box<Type>),
    Option(Box<Type>),
}
