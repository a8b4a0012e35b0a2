//! `snakebox inspect`: a component's exports, their Python side and docs,
//! and the host functions it needs bound.

use std::path::Path;
use std::process::ExitCode;

use snakebox::{Policy, Runtime};

use crate::text::printable;

pub(crate) fn run(component: &Path) -> anyhow::Result<ExitCode> {
    // Nothing is called: the host functions need no binding here.
    let mut policy = Policy::default();
    policy.host.allow_unbound();
    let app = Runtime::new()?.load_with(component, policy)?;
    let mut interfaces: Vec<_> = app.functions().iter().map(|f| &f.interface).collect();
    interfaces.dedup();
    for function in app.functions() {
        // Qualify names only when several interfaces could share one.
        match &function.interface {
            Some(interface) if interfaces.len() > 1 => {
                println!(
                    "{}",
                    printable(&format!("{interface}#{}", function.wit_signature()))
                );
            }
            _ => println!("{}", printable(&function.wit_signature())),
        }
        // What the description adds: the Python side, and its docs.
        if let Some(signature) = function.python_signature() {
            println!("    {}", printable(&signature));
        }
        for line in function.docs().into_iter().flat_map(str::lines) {
            println!("{}", printable(format!("      {line}").trim_end()));
        }
    }
    // Classes: objects with methods, for Rust; JSON cannot hold them.
    for class in app.classes() {
        let called = class
            .constructor()
            .map_or(class.name.as_str(), |c| c.call_name.as_str());
        println!(
            "\nclass {} (resource `{}`, made by `{}`; its objects stay in the sandbox: call it from Rust)",
            printable(&class.name),
            printable(&class.wit_name),
            printable(called)
        );
        for line in class.docs().into_iter().flat_map(str::lines) {
            println!("{}", printable(format!("    {line}").trim_end()));
        }
        let described = class.described();
        for member in class.constructor().into_iter().chain(class.members()) {
            let wit = match (described, &member.described) {
                (Some(class), Some(function)) => member_wit(class, function.function()),
                _ => member.wit_signature(),
            };
            println!("  {}", printable(&wit));
            if let Some(signature) = member.python_signature() {
                println!("      {}", printable(&signature));
            }
            for line in member.docs().into_iter().flat_map(str::lines) {
                println!("{}", printable(format!("        {line}").trim_end()));
            }
        }
    }
    // What the host must bind (`--bind NAME=URL`).
    for module in app.host_modules() {
        println!(
            "\nhost functions of `{}` (bind each by its name):",
            printable(&module.name)
        );
        for function in &module.functions {
            // `async def find_person(…)` → `async def directory.find_person(…)`.
            let signature = function.python_signature(module);
            let (keyword, rest) = signature.split_once("def ").unwrap_or(("", &signature));
            println!(
                "{}",
                printable(&format!("  {keyword}def {}.{rest}", module.name))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A member's WIT signature as the class's WIT source spells it.
fn member_wit(
    class: &snakebox_generator::Class,
    function: &snakebox_generator::Function,
) -> String {
    use snakebox_generator::wit;
    if std::ptr::eq(function, &class.constructor) {
        return wit::constructor_signature(class, wit::EXPORT_ERROR, false);
    }
    let kind = class
        .methods
        .iter()
        .find(|m| std::ptr::eq(&m.function, function))
        .map_or(snakebox_generator::MethodKind::Instance, |m| m.kind);
    wit::member_signature(function, kind, wit::EXPORT_ERROR, false)
}
