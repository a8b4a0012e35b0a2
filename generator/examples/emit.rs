//! Prints the diagnostics, WIT and glue generated for a Python file:
//! `cargo run -p snakebox-generator --example emit -- app.py [wit|glue]`.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: emit FILE.py")?;
    let source = std::fs::read_to_string(&path)?;
    let module_name = Path::new(&path)
        .file_stem()
        .and_then(|stem| stem.to_str())
        .ok_or("the file name is not UTF-8")?;
    let analysis = snakebox_generator::analyze(&source, module_name);
    for diagnostic in &analysis.diagnostics {
        eprintln!("{}", diagnostic.render(&path));
    }
    let part = std::env::args().nth(2);
    if let Some(module) = &analysis.module {
        if part.as_deref() != Some("glue") {
            print!("{}", snakebox_generator::wit::emit(module));
        }
        if part.as_deref() != Some("wit") {
            print!("{}", snakebox_generator::glue::emit(module));
        }
    }
    Ok(())
}
