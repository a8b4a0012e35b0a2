//! `snakebox wit`: the WIT world of a Python module, with its diagnostics.

use std::process::ExitCode;

use anyhow::bail;
use snakebox::builder;

use crate::flags::WitArgs;

pub(crate) fn run(args: WitArgs) -> anyhow::Result<ExitCode> {
    let Some(file) = args.file.or(args.from) else {
        bail!("name a Python module, or a stub with --from");
    };
    let options = snakebox_generator::Options {
        strict: args.strict,
    };
    let generated = builder::generate_with_imports(&file, options, &args.imports)?;
    for diagnostic in generated.rendered_diagnostics() {
        eprintln!("{diagnostic}");
    }
    let Some(wit) = generated.wit else {
        return Ok(ExitCode::FAILURE);
    };
    match args.out {
        Some(dir) => {
            builder::write_wit_dir(&wit, &dir)?;
            eprintln!("wrote {} (world `{}`)", dir.display(), generated.world);
        }
        None => print!("{wit}"),
    }
    Ok(ExitCode::SUCCESS)
}
