//! Writes an exported function back as the Python signature it was read
//! from, for `inspect` and the served docs.

use crate::ir::{Class, Function, Method, MethodKind, Module, ParamKind, Type, TypeDefKind};

impl Function {
    /// The signature as Python writes it, for example
    /// `async def fetch(url: str, retries: int = ...) -> bytes`. Defaults
    /// show as `...`: their values stay in the module.
    pub fn python_signature(&self, module: &Module) -> String {
        self.signature_with(module, None, None)
    }

    /// The signature with `first` (`self`, `cls`) before the parameters,
    /// and `result` in place of the result's own annotation.
    fn signature_with(&self, module: &Module, first: Option<&str>, result: Option<&str>) -> String {
        let mut parts: Vec<String> = first.into_iter().map(str::to_owned).collect();
        let mut keyword_only = false;
        for (i, param) in self.params.iter().enumerate() {
            let ty = python_type(&param.ty, module);
            let default = if param.has_default && !is_variadic(param.kind) {
                " = ..."
            } else {
                ""
            };
            match param.kind {
                ParamKind::VarPositional => {
                    keyword_only = true;
                    parts.push(format!("*{}: {ty}", param.name));
                    continue;
                }
                ParamKind::VarKeyword => {
                    parts.push(format!("**{}: {ty}", param.name));
                    continue;
                }
                ParamKind::Keyword if !keyword_only => {
                    keyword_only = true;
                    parts.push("*".to_owned());
                }
                _ => {}
            }
            parts.push(format!("{}: {ty}{default}", param.name));
            let next_is_positional = self
                .params
                .get(i + 1)
                .is_some_and(|next| next.kind == ParamKind::Positional);
            if param.kind == ParamKind::Positional && !next_is_positional {
                parts.push("/".to_owned());
            }
        }
        let item = match result {
            Some(result) => result.to_owned(),
            None => python_type(&self.result, module),
        };
        let result = match (self.stream, self.async_def) {
            (true, true) => format!("AsyncIterator[{item}]"),
            (true, false) => format!("Iterator[{item}]"),
            // `def f() -> Awaitable[T]`: async in WIT, not an `async def`.
            (false, false) if self.is_async => format!("Awaitable[{item}]"),
            (false, _) => item,
        };
        let keyword = if self.async_def { "async def" } else { "def" };
        format!("{keyword} {}({}) -> {result}", self.name, parts.join(", "))
    }
}

impl Method {
    /// The method as Python writes it, with its decorator:
    /// `def deposit(self, amount: int) -> int`,
    /// `@staticmethod def currency() -> str`.
    pub fn python_signature(&self, module: &Module) -> String {
        match self.kind {
            MethodKind::Instance => self.function.signature_with(module, Some("self"), None),
            MethodKind::Static => format!(
                "@staticmethod {}",
                self.function.signature_with(module, None, None)
            ),
            MethodKind::Class => format!(
                "@classmethod {}",
                self.function.signature_with(module, Some("cls"), None)
            ),
        }
    }
}

impl Class {
    /// `__init__` as Python writes it: `def __init__(self, owner: str) -> None`.
    pub fn constructor_signature(&self, module: &Module) -> String {
        self.constructor
            .signature_with(module, Some("self"), Some("None"))
    }
}

fn is_variadic(kind: ParamKind) -> bool {
    matches!(kind, ParamKind::VarPositional | ParamKind::VarKeyword)
}

/// The Python annotation of a type, with the module's own class names.
pub(crate) fn python_type(ty: &Type, module: &Module) -> String {
    match ty {
        Type::Int => "int".into(),
        Type::Float => "float".into(),
        Type::Bool => "bool".into(),
        Type::Str => "str".into(),
        Type::Bytes => "bytes".into(),
        Type::ByteArray => "bytearray".into(),
        Type::None => "None".into(),
        Type::List(item) => format!("list[{}]", python_type(item, module)),
        Type::Tuple(items) if items.is_empty() => "tuple[()]".into(),
        Type::Tuple(items) => {
            let items: Vec<String> = items.iter().map(|t| python_type(t, module)).collect();
            format!("tuple[{}]", items.join(", "))
        }
        Type::Dict(key, value) => format!(
            "dict[{}, {}]",
            python_type(key, module),
            python_type(value, module)
        ),
        Type::Option(item) => match item.as_ref() {
            Type::Option(_) => python_type(item, module),
            _ => format!("{} | None", python_type(item, module)),
        },
        Type::Object(name) => module
            .class(name)
            .map_or_else(|| name.clone(), |class| class.name.clone()),
        Type::Named(name) => match module.type_def(name).map(|def| &def.kind) {
            Some(TypeDefKind::Record { class, .. } | TypeDefKind::Enum { class, .. }) => {
                class.clone()
            }
            Some(TypeDefKind::Literal { cases }) => {
                let cases: Vec<String> = cases.iter().map(|c| format!("{:?}", c.python)).collect();
                format!("Literal[{}]", cases.join(", "))
            }
            Some(TypeDefKind::Variant { cases }) => {
                let cases: Vec<String> = cases.iter().map(|c| python_type(&c.ty, module)).collect();
                cases.join(" | ")
            }
            Some(TypeDefKind::Json) => "Any".into(),
            None => name.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::analyze;

    fn signatures(source: &str) -> Vec<String> {
        let module = analyze(source, "m").module.expect("parses");
        module
            .functions
            .iter()
            .map(|f| f.python_signature(&module))
            .collect()
    }

    #[test]
    fn writes_every_kind_of_parameter() {
        let source =
            "def f(a: int, /, b: str = 'x', *args: float, c: bool, **kw: int) -> None: ...";
        assert_eq!(
            signatures(source),
            ["def f(a: int, /, b: str = ..., *args: float, c: bool, **kw: int) -> None"]
        );
    }

    #[test]
    fn writes_named_types_and_streams() {
        let source = "\
from dataclasses import dataclass
from typing import AsyncIterator, Literal, Optional

@dataclass
class Point:
    x: float

async def walk(p: Point, mode: Literal['a', 'b'], n: Optional[int]) -> AsyncIterator[int | str]:
    yield 1

def star(*, k: dict[str, bytes]) -> tuple[int, Point]: ...
";
        assert_eq!(
            signatures(source),
            [
                "async def walk(p: Point, mode: Literal[\"a\", \"b\"], n: int | None) -> AsyncIterator[int | str]",
                "def star(*, k: dict[str, bytes]) -> tuple[int, Point]",
            ]
        );
    }
}
