//! `snakebox build`, `files` and `precompile`: components to disk, the
//! files they carry, and their compiled code into the cache.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use snakebox::Runtime;

use crate::flags::BuildArgs;

/// `snakebox build`: the component, for the snakebox host or (`http`) for
/// `wasi:http` engines, copied from the cache to `output`.
pub(crate) fn build(
    file: &Path,
    output: &Path,
    http: bool,
    args: &BuildArgs,
) -> anyhow::Result<ExitCode> {
    let built = super::build_for(file, args, http)?;
    std::fs::copy(&built, output)
        .with_context(|| format!("failed to write {}", output.display()))?;
    eprintln!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}

/// `snakebox files`: prints the `--dir` flags that grant what it wrote.
pub(crate) fn files(component: &Path, dir: &Path) -> anyhow::Result<ExitCode> {
    let grants = snakebox::extract_files(component, dir)?;
    if grants.is_empty() {
        eprintln!("{} carries no files", component.display());
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "wrote the files of {} into {}; grant each folder where the guest expects it:",
        component.display(),
        dir.display()
    );
    let flags: Vec<String> = grants
        .iter()
        .map(|g| {
            format!(
                "--dir {}",
                shell_quoted(&format!("{}::{}", g.host.display(), g.guest))
            )
        })
        .collect();
    println!("{}", flags.join(" "));
    Ok(ExitCode::SUCCESS)
}

/// `snakebox precompile`.
pub(crate) fn precompile(app: &Path, args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let component = super::component(app, args)?;
    let runtime = Runtime::new()?;
    let compiled = runtime.precompile(&component)?;
    let cache = runtime
        .cache_dir()
        .map_or_else(|| "no cache".to_owned(), |dir| dir.display().to_string());
    match compiled {
        0 => eprintln!("{} was compiled already ({cache})", component.display()),
        _ => eprintln!("compiled {} into {cache}", component.display()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` as one shell word: as it is when it is plain, else in single
/// quotes, so that a folder name with spaces or quotes stays one argument.
fn shell_quoted(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+=,".contains(&b));
    match plain {
        true => text.to_owned(),
        false => format!("'{}'", text.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quoted;

    #[test]
    fn flags_stay_one_word() {
        assert_eq!(shell_quoted("/srv/app-files/0::/0"), "/srv/app-files/0::/0");
        assert_eq!(shell_quoted("my files/0::/0"), "'my files/0::/0'");
        assert_eq!(shell_quoted("it's/0::/0"), r"'it'\''s/0::/0'");
        assert_eq!(shell_quoted(""), "''");
    }
}
