//! Classes of the module as named WIT types: `@dataclass`, `TypedDict` and
//! `NamedTuple` become records, `enum.Enum` subclasses become enums.

use ruff_python_ast::{self as ast, Expr, Stmt};

use super::named::RESERVED_TYPE_NAMES;
use super::{Problem, Reader, base_name, docstring, generic, wit_label};
use crate::diagnostic::Code;
use crate::ir::{Case, Field, RecordStyle, Type, TypeDef, TypeDefKind};
use crate::names;

/// What a class of the module is, as far as WIT cares.
enum ClassKind {
    Record(RecordStyle),
    Enum,
}

impl Reader<'_> {
    /// The WIT type of a class of the module, read once and remembered.
    pub(super) fn class_type(&self, class: &ast::StmtClassDef) -> Result<Type, Problem> {
        let name = class.name.id.as_str();
        if let Some(outcome) = self.resolved.borrow().get(name) {
            return outcome.clone().map(Type::Named);
        }
        if self.resolving.borrow().iter().any(|other| other == name) {
            return Err(Problem::new(
                class.name.range,
                Code::RecursiveType,
                format!("the class `{name}` refers back to itself, which WIT types cannot"),
                "break the cycle (for example with a list of ids), or carry the value as `Any`",
            ));
        }
        self.resolving.borrow_mut().push(name.to_owned());
        let outcome = self.within(None, || self.read_class(class));
        self.resolving.borrow_mut().pop();
        self.resolved
            .borrow_mut()
            .insert(name.to_owned(), outcome.clone());
        outcome.map(Type::Named)
    }

    fn read_class(&self, class: &ast::StmtClassDef) -> Result<String, Problem> {
        let name = class.name.id.as_str();
        let wit_name = names::kebab(name)
            .filter(|label| names::is_label(label))
            .ok_or_else(|| {
                Problem::new(
                    class.name.range,
                    Code::BadName,
                    format!("the class name `{name}` has no WIT form"),
                    "use ASCII letters, digits and underscores, starting with a letter",
                )
            })?;
        if RESERVED_TYPE_NAMES.contains(&wit_name.as_str()) {
            return Err(Problem::new(
                class.name.range,
                Code::BadName,
                format!("the class name `{name}` is taken by snakebox's `{wit_name}`"),
                "rename the class",
            ));
        }
        if class.type_params.is_some() {
            return Err(Problem::new(
                class.range,
                Code::UnsupportedClass,
                format!("the generic class `{name}` cannot be a WIT type"),
                "use a class with concrete field types",
            ));
        }
        let kind = class_kind(class)?;
        let kind = match kind {
            ClassKind::Enum => TypeDefKind::Enum {
                class: name.to_owned(),
                cases: enum_cases(class)?,
            },
            ClassKind::Record(style) => TypeDefKind::Record {
                class: name.to_owned(),
                style,
                fields: self.fields(class, style)?,
            },
        };
        let mut types = self.types.borrow_mut();
        if types.iter().any(|def| def.wit_name == wit_name) {
            return Err(Problem::new(
                class.name.range,
                Code::BadName,
                format!(
                    "the WIT name `{wit_name}` of class `{name}` is already used by another type"
                ),
                "rename the class",
            ));
        }
        types.push(TypeDef {
            wit_name: wit_name.clone(),
            docs: docstring(&class.body),
            kind,
        });
        Ok(wit_name)
    }

    fn fields(&self, class: &ast::StmtClassDef, style: RecordStyle) -> Result<Vec<Field>, Problem> {
        let total = !class.arguments.as_deref().is_some_and(|arguments| {
            arguments.keywords.iter().any(|keyword| {
                keyword
                    .arg
                    .as_ref()
                    .is_some_and(|arg| arg.id.as_str() == "total")
                    && matches!(
                        keyword.value,
                        Expr::BooleanLiteral(ast::ExprBooleanLiteral { value: false, .. })
                    )
            })
        });
        let mut fields: Vec<Field> = Vec::new();
        for stmt in &class.body {
            let Stmt::AnnAssign(assign) = stmt else {
                continue;
            };
            let Expr::Name(target) = assign.target.as_ref() else {
                continue;
            };
            if is_class_var(&assign.annotation) {
                continue;
            }
            let name = target.id.as_str();
            let wit_name = wit_label(name, target.range, "the field")?;
            if let Some(other) = fields.iter().find(|field| field.wit_name == wit_name) {
                return Err(Problem::new(
                    target.range,
                    Code::BadName,
                    format!(
                        "fields `{}` and `{name}` have the same WIT name `{wit_name}`",
                        other.name
                    ),
                    "rename one of the two fields",
                ));
            }
            let (annotation, optional) = match generic(&assign.annotation) {
                Some(("NotRequired", args))
                    if style == RecordStyle::TypedDict && args.len() == 1 =>
                {
                    (args[0], true)
                }
                Some(("Required", args)) if style == RecordStyle::TypedDict && args.len() == 1 => {
                    (args[0], false)
                }
                _ => (
                    assign.annotation.as_ref(),
                    style == RecordStyle::TypedDict && !total,
                ),
            };
            let mut ty = self.no_object(self.value_type(annotation)?, annotation, "a record")?;
            if optional {
                ty = Type::Option(Box::new(ty));
            }
            fields.push(Field {
                name: name.to_owned(),
                wit_name,
                ty,
                optional,
            });
        }
        if fields.is_empty() {
            return Err(Problem::new(
                class.name.range,
                Code::UnsupportedClass,
                format!("the class `{}` has no annotated fields", class.name.id),
                "declare at least one field, such as `x: int`: a WIT record cannot be empty",
            ));
        }
        Ok(fields)
    }
}

fn class_kind(class: &ast::StmtClassDef) -> Result<ClassKind, Problem> {
    let name = class.name.id.as_str();
    let bases: Vec<&Expr> = class
        .arguments
        .as_deref()
        .map(|arguments| arguments.args.iter().collect())
        .unwrap_or_default();
    // `total=False` is the one class argument a record may have (on a TypedDict).
    let keywords = class.arguments.as_deref().map_or(0, |arguments| {
        arguments
            .keywords
            .iter()
            .filter(|keyword| {
                !(keyword
                    .arg
                    .as_ref()
                    .is_some_and(|arg| arg.id.as_str() == "total")
                    && matches!(keyword.value, Expr::BooleanLiteral(_)))
            })
            .count()
    });
    let base_names: Vec<&str> = bases.iter().filter_map(|base| base_name(base)).collect();
    let unsupported = |message: String, help: &str| {
        Err(Problem::new(
            class.name.range,
            Code::UnsupportedClass,
            message,
            help,
        ))
    };
    if base_names
        .iter()
        .any(|base| matches!(*base, "Flag" | "IntFlag"))
    {
        return unsupported(
            format!("the flag enum `{name}` cannot be a WIT type yet"),
            "use `enum.Enum`, or pass a `list` of enum members",
        );
    }
    if base_names
        .iter()
        .any(|base| matches!(*base, "Enum" | "IntEnum" | "StrEnum"))
    {
        return Ok(ClassKind::Enum);
    }
    let style = if base_names.contains(&"TypedDict") {
        Some(RecordStyle::TypedDict)
    } else if base_names.contains(&"NamedTuple") {
        Some(RecordStyle::NamedTuple)
    } else if class.decorator_list.iter().any(is_dataclass) {
        Some(RecordStyle::Dataclass)
    } else {
        None
    };
    let Some(style) = style else {
        return unsupported(
            format!("the class `{name}` is not a dataclass, TypedDict, NamedTuple or Enum"),
            "decorate it with `@dataclass`, or derive it from `TypedDict`, `NamedTuple` or `Enum`",
        );
    };
    if bases.len() > usize::from(style != RecordStyle::Dataclass) || keywords > 0 {
        return unsupported(
            format!("the class `{name}` has other bases or class arguments"),
            "derive the class from `TypedDict` or `NamedTuple` only (or from nothing, for a \
             dataclass), and declare every field in it",
        );
    }
    Ok(ClassKind::Record(style))
}

fn enum_cases(class: &ast::StmtClassDef) -> Result<Vec<Case>, Problem> {
    let mut cases: Vec<Case> = Vec::new();
    for stmt in &class.body {
        let target = match stmt {
            Stmt::Assign(assign) => match assign.targets.as_slice() {
                [Expr::Name(target)] => target,
                _ => continue,
            },
            Stmt::AnnAssign(assign) if assign.value.is_some() => match assign.target.as_ref() {
                Expr::Name(target) => target,
                _ => continue,
            },
            _ => continue,
        };
        let name = target.id.as_str();
        if name.starts_with('_') {
            continue;
        }
        let wit_name = wit_label(name, target.range, "the enum member")?;
        if let Some(other) = cases.iter().find(|case| case.wit_name == wit_name) {
            return Err(Problem::new(
                target.range,
                Code::BadName,
                format!(
                    "enum members `{}` and `{name}` have the same WIT name `{wit_name}`",
                    other.python
                ),
                "rename one of the two members",
            ));
        }
        cases.push(Case {
            python: name.to_owned(),
            wit_name,
        });
    }
    if cases.is_empty() {
        return Err(Problem::new(
            class.name.range,
            Code::UnsupportedClass,
            format!("the enum `{}` has no members", class.name.id),
            "declare members such as `RED = 1`",
        ));
    }
    Ok(cases)
}

fn is_dataclass(decorator: &ast::Decorator) -> bool {
    let expr = match &decorator.expression {
        Expr::Call(call) => call.func.as_ref(),
        other => other,
    };
    base_name(expr) == Some("dataclass")
}

fn is_class_var(annotation: &Expr) -> bool {
    base_name(annotation) == Some("ClassVar")
        || generic(annotation).is_some_and(|(name, _)| name == "ClassVar")
}
