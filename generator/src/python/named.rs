//! Named WIT types the module does not name itself: unions become variants,
//! `Literal[...]` becomes an enum, `Any` a JSON record. Also the renaming of
//! types whose WIT name a function already has.

use std::collections::HashMap;

use ruff_python_ast::{self as ast, Expr, Operator};
use ruff_text_size::Ranged;

use super::{Problem, Reader, is_none};
use crate::diagnostic::Code;
use crate::ir::{Case, Module, Type, TypeDef, TypeDefKind, VariantCase};
use crate::names;

impl Reader<'_> {
    /// `A | B` and `Union[A, B]`: a variant with one case per member, in
    /// an `option` when `None` is one of them.
    pub(super) fn union(&self, expr: &Expr, items: &[&Expr]) -> Result<Type, Problem> {
        let mut flat = Vec::new();
        flatten_union(items, &mut flat);
        let values: Vec<&Expr> = flat.iter().copied().filter(|item| !is_none(item)).collect();
        let mut members: Vec<Type> = Vec::new();
        for value in &values {
            let mut ty = self.value_type(value)?;
            if values.len() > 1 {
                ty = self.no_object(ty, value, "a union")?;
            }
            if !members.contains(&ty) {
                members.push(ty);
            }
        }
        let ty = match members.len() {
            0 => {
                return Err(Problem::new(
                    expr.range(),
                    Code::UnsupportedType,
                    format!("the union `{}` has no value type", self.text(expr)),
                    "use `None` as a return type for no value",
                ));
            }
            1 => members.remove(0),
            _ => self.variant(members),
        };
        if values.len() < flat.len() {
            Ok(Type::Option(Box::new(ty)))
        } else {
            Ok(ty)
        }
    }

    /// A variant named after its members (`int-or-str`), one case each.
    pub(super) fn variant(&self, members: Vec<Type>) -> Type {
        let mut cases: Vec<VariantCase> = Vec::new();
        for ty in members {
            let label = type_label(&ty);
            let mut wit_name = label.clone();
            let mut n = 2;
            while cases.iter().any(|case| case.wit_name == wit_name) {
                wit_name = format!("{label}{n}");
                n += 1;
            }
            cases.push(VariantCase { wit_name, ty });
        }
        let name = cases
            .iter()
            .map(|case| case.wit_name.as_str())
            .collect::<Vec<_>>()
            .join("-or-");
        Type::Named(self.register_anonymous(name, TypeDefKind::Variant { cases }))
    }

    /// `Literal["a", "b"]`: a WIT enum whose cases are the strings.
    pub(super) fn literal(&self, expr: &Expr, items: &[&Expr]) -> Result<Type, Problem> {
        let mut cases: Vec<Case> = Vec::new();
        for item in items {
            let Expr::StringLiteral(string) = item else {
                return Err(Problem::new(
                    item.range(),
                    Code::UnsupportedType,
                    format!("the literal `{}` is not a string", self.text(item)),
                    "use `Literal` with strings only, such as `Literal[\"read\", \"write\"]`, \
                     or the plain type (`int`, `bool`)",
                ));
            };
            let value = string.value.to_str();
            let wit_name = names::kebab(&value.replace('-', "_"))
                .filter(|label| names::is_label(label))
                .ok_or_else(|| {
                    Problem::new(
                        item.range(),
                        Code::BadName,
                        format!("the literal {value:?} has no WIT enum case name"),
                        "use literal strings made of ASCII letters, digits and single \
                         underscores or hyphens, starting with a letter",
                    )
                })?;
            if let Some(other) = cases.iter().find(|case| case.wit_name == wit_name) {
                return Err(Problem::new(
                    item.range(),
                    Code::BadName,
                    format!(
                        "the literals {:?} and {value:?} have the same WIT name `{wit_name}`",
                        other.python
                    ),
                    "keep one of the two",
                ));
            }
            cases.push(Case {
                python: value.to_owned(),
                wit_name,
            });
        }
        if cases.is_empty() {
            return Err(Problem::new(
                expr.range(),
                Code::UnsupportedType,
                "`Literal[]` needs at least one value",
                "list the accepted strings, such as `Literal[\"a\", \"b\"]`",
            ));
        }
        let name = cases
            .iter()
            .map(|case| case.wit_name.as_str())
            .collect::<Vec<_>>()
            .join("-or-");
        Ok(Type::Named(
            self.register_anonymous(name, TypeDefKind::Literal { cases }),
        ))
    }

    pub(super) fn json_type(&self) -> Type {
        Type::Named(self.register_anonymous(crate::ir::JSON_TYPE.to_owned(), TypeDefKind::Json))
    }

    /// Registers a type the module does not name, reusing an equal one and
    /// numbering the name when a different type already has it.
    pub(super) fn register_anonymous(&self, name: String, kind: TypeDefKind) -> String {
        let mut types = self.types.borrow_mut();
        let mut wit_name = name.clone();
        let mut n = 2;
        loop {
            match types.iter().find(|def| def.wit_name == wit_name) {
                Some(def) if def.kind == kind => return wit_name,
                Some(_) => {}
                None if !self.name_taken(&wit_name) => break,
                None => {}
            }
            wit_name = format!("{name}{n}");
            n += 1;
        }
        types.push(TypeDef {
            wit_name: wit_name.clone(),
            docs: None,
            kind,
        });
        wit_name
    }

    /// `true` when a class of the module, or the runtime, claims the WIT name.
    pub(super) fn name_taken(&self, wit_name: &str) -> bool {
        RESERVED_TYPE_NAMES.contains(&wit_name)
            || self
                .classes
                .keys()
                .any(|class| names::kebab(class).as_deref() == Some(wit_name))
    }

    /// Drops the types registered after the first `count`, when the function
    /// that needed them was skipped.
    pub(super) fn forget_types_after(&self, count: usize) {
        let mut types = self.types.borrow_mut();
        if types.len() <= count {
            return;
        }
        types.truncate(count);
        self.resolved
            .borrow_mut()
            .retain(|_, outcome| match outcome {
                Ok(wit_name) => types.iter().any(|def| &def.wit_name == wit_name),
                Err(_) => true,
            });
    }
}

/// Types and functions share one namespace in a WIT interface: a type
/// named like a function (class `Point`, function `point`) becomes
/// `point-type` in WIT. Python and JSON never see type names.
pub(super) fn rename_types_named_like_functions(module: &mut Module) {
    let taken = |name: &str, module: &Module| {
        module.functions.iter().any(|f| f.wit_name == name)
            || module.types.iter().any(|def| def.wit_name == name)
            || module.classes.iter().any(|class| class.wit_name == name)
    };
    let mut renames: HashMap<String, String> = HashMap::new();
    let names: Vec<String> = module
        .types
        .iter()
        .map(|def| def.wit_name.clone())
        .chain(module.classes.iter().map(|class| class.wit_name.clone()))
        .collect();
    for old in names {
        if !module.functions.iter().any(|f| f.wit_name == old) {
            continue;
        }
        let mut new = format!("{old}-type");
        let mut n = 2;
        while taken(&new, module) {
            new = format!("{old}-type{n}");
            n += 1;
        }
        for def in module.types.iter_mut().filter(|def| def.wit_name == old) {
            def.wit_name = new.clone();
        }
        for class in module.classes.iter_mut().filter(|c| c.wit_name == old) {
            class.wit_name = new.clone();
        }
        renames.insert(old, new);
    }
    if renames.is_empty() {
        return;
    }
    let mut rename = |name: &mut String| {
        if let Some(new) = renames.get(name.as_str()) {
            *name = new.clone();
        }
    };
    let members = module.classes.iter_mut().flat_map(|class| {
        std::iter::once(&mut class.constructor)
            .chain(class.methods.iter_mut().map(|method| &mut method.function))
    });
    for function in module.functions.iter_mut().chain(members) {
        function.result.names_mut(&mut rename);
        for param in &mut function.params {
            param.ty.names_mut(&mut rename);
        }
    }
    for def in &mut module.types {
        match &mut def.kind {
            TypeDefKind::Record { fields, .. } => {
                fields.iter_mut().for_each(|f| f.ty.names_mut(&mut rename))
            }
            TypeDefKind::Variant { cases } => {
                cases.iter_mut().for_each(|c| c.ty.names_mut(&mut rename))
            }
            _ => {}
        }
    }
}

/// WIT names used by the runtime's types in every interface.
pub(super) const RESERVED_TYPE_NAMES: &[&str] = &["python-error"];

/// A short kebab-case label for a type, used to name variant cases.
fn type_label(ty: &Type) -> String {
    match ty {
        Type::Int => "int".into(),
        Type::Float => "float".into(),
        Type::Bool => "bool".into(),
        Type::Str => "str".into(),
        Type::Bytes => "bytes".into(),
        Type::ByteArray => "bytearray".into(),
        Type::None => "none".into(),
        Type::List(item) => format!("list-{}", type_label(item)),
        Type::Tuple(_) => "tuple".into(),
        Type::Dict(..) => "dict".into(),
        Type::Option(item) => format!("optional-{}", type_label(item)),
        Type::Named(name) | Type::Object(name) => name.clone(),
    }
}

fn flatten_union<'a>(items: &[&'a Expr], out: &mut Vec<&'a Expr>) {
    for item in items {
        match item {
            Expr::BinOp(ast::ExprBinOp {
                left,
                op: Operator::BitOr,
                right,
                ..
            }) => {
                flatten_union(&[left, right], out);
            }
            other => out.push(other),
        }
    }
}
