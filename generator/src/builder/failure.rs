//! What a failed componentize-py run means, in the words of a Python
//! programmer.
//!
//! componentize-py imports the module while it builds the component, so a
//! module that raises at import fails the build. Its log then holds the
//! Python traceback inside its own wrapper traceback, followed by its Rust
//! stack backtrace. The error keeps the traceback, with the user's own
//! files named as they are on disk, and puts the position of the innermost
//! frame in the user's code first: `app.py:8:9: error: KeyError: 'missing'`.

use std::path::Path;

use super::{BuildError, BuildErrorKind};

/// The first line of every Python traceback.
const TRACEBACK: &str = "Traceback (most recent call last):";

/// Explains `log`, where `/0/` on the guest's Python path is the folder
/// `root` on disk: the module raised, or (without a Python traceback in
/// the log) componentize-py failed, and its log is given as it is, less
/// its stack backtrace.
pub(crate) fn explain(log: &str, root: &Path) -> BuildError {
    let log = log.replace("File \"/0/", &format!("File \"{}", shown(root)));
    let Some(start) = log.rfind(TRACEBACK) else {
        let log = without_backtrace(&log);
        return BuildError::toolchain(format!("componentize-py failed:\n{}", log.trim_end()));
    };
    let rest = &log[start..];
    let end = ["\n\nCaused by:", "\nStack backtrace:"]
        .iter()
        .filter_map(|marker| rest.find(marker))
        .min()
        .unwrap_or(rest.len());
    let traceback = without_glue_frames(rest[..end].trim_end());
    let traceback = traceback.as_str();
    let exception = traceback
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty() && !line.starts_with(' '))
        .unwrap_or("the module raised");
    let position = innermost_user_frame(traceback, root)
        .map(|(file, line, column)| format!("{file}:{line}:{column}: "))
        .unwrap_or_default();
    BuildError::new(
        BuildErrorKind::ModuleRaised,
        format!(
            "{position}error: {exception}\n\
             The module raised while componentize-py imported it to build the component:\n\
             {traceback}"
        ),
    )
}

/// `file, line, column` of the last frame in `root`: the column is where
/// the carets under its source line start, or 1.
fn innermost_user_frame(traceback: &str, root: &Path) -> Option<(String, u32, usize)> {
    let prefix = format!("  File \"{}", shown(root));
    let lines: Vec<&str> = traceback.lines().collect();
    let (index, frame) = lines
        .iter()
        .enumerate()
        .rev()
        .find(|(_, line)| line.starts_with(&prefix))?;
    let rest = frame.strip_prefix("  File \"")?;
    let (file, rest) = rest.split_once('"')?;
    let line: u32 = rest
        .strip_prefix(", line ")?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    // The traceback shows the source line without its own indentation.
    let source_indent = std::fs::read_to_string(file)
        .ok()
        .and_then(|source| {
            let text = source.lines().nth(line.checked_sub(1)? as usize)?;
            Some(text.len() - text.trim_start().len())
        })
        .unwrap_or(0);
    let column = match (lines.get(index + 1), lines.get(index + 2)) {
        (Some(code), Some(carets)) if carets.trim_start().starts_with(['^', '~']) => {
            let shown_at = code.len() - code.trim_start().len();
            let marked_at = carets.len() - carets.trim_start().len();
            source_indent + marked_at.saturating_sub(shown_at) + 1
        }
        _ => source_indent + 1,
    };
    Some((file.to_owned(), line, column))
}

/// How the files in `root` are named to the user: the folder, with its
/// trailing `/`, relative to the working directory when it is inside it
/// (nothing at all when it is the working directory).
fn shown(root: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| root.strip_prefix(cwd).ok().map(Path::to_path_buf));
    match relative {
        Some(path) if path.as_os_str().is_empty() => String::new(),
        Some(path) => format!("{}/", path.display()),
        None => format!("{}/", root.display()),
    }
}

/// The traceback less the frames of snakebox's generated glue (`/1/` on
/// the guest's Python path), which only import the user's module.
fn without_glue_frames(traceback: &str) -> String {
    let mut kept = Vec::new();
    let mut in_glue = false;
    for line in traceback.lines() {
        if line.starts_with("  File ") {
            in_glue = line.starts_with("  File \"/1/");
        } else if !line.starts_with("    ") {
            in_glue = false;
        }
        if !in_glue {
            kept.push(line);
        }
    }
    kept.join("\n")
}

/// The log up to componentize-py's Rust stack backtrace.
pub(crate) fn without_backtrace(log: &str) -> &str {
    log.find("\nStack backtrace:")
        .map_or(log, |end| &log[..end])
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{BuildErrorKind, explain};

    const LOG: &str = "Traceback (most recent call last):
  File \"<string>\", line 1, in <module>
AssertionError: Traceback (most recent call last):
  File \"/1/snakebox_glue.py\", line 5, in <module>
    import app as _m
  File \"/0/app.py\", line 8, in <module>
    value = {}[\"missing\"]
            ~~^^^^^^^^^^^
KeyError: 'missing'


Caused by:
    KeyError: 'missing'

Stack backtrace:
   0: <anyhow::Error>::msg::<alloc::string::String>
  26: __libc_start_call_main
";

    #[test]
    fn names_the_users_frame_and_drops_the_backtrace() {
        let error = explain(LOG, Path::new("/src/proj"));
        assert_eq!(error.kind(), BuildErrorKind::ModuleRaised);
        let explained = error.message();
        let mut lines = explained.lines();
        assert_eq!(
            lines.next(),
            Some("/src/proj/app.py:8:9: error: KeyError: 'missing'")
        );
        assert!(
            explained.contains("  File \"/src/proj/app.py\", line 8, in <module>"),
            "{explained}"
        );
        assert!(
            !explained.contains("Stack backtrace") && !explained.contains("libc"),
            "{explained}"
        );
        assert!(
            !explained.contains("<string>"),
            "the wrapper is not shown: {explained}"
        );
        assert!(
            !explained.contains("snakebox_glue"),
            "nor the glue: {explained}"
        );
    }

    #[test]
    fn a_log_without_a_traceback_loses_only_the_backtrace() {
        let explained = explain(
            "error: something else\n\nStack backtrace:\n   0: main\n",
            Path::new("/x"),
        );
        assert_eq!(explained.kind(), BuildErrorKind::Toolchain);
        assert_eq!(
            explained.message(),
            "componentize-py failed:\nerror: something else"
        );
    }
}
