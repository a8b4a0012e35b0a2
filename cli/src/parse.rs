//! The command line's value parsers: sizes, durations, grants and JSON
//! arguments, each read from one flag or ARG. clap calls them, and reports
//! an error with the flag it came from (`invalid value '5x' for
//! '--timeout <DURATION>': unknown duration unit …`), exiting with 2.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use snakebox::{DirGrant, Policy};

/// One ARG of `call` or `run`: a JSON value, or `name=JSON` for a keyword.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Argument {
    /// A positional value.
    Positional(Value),
    /// A keyword argument, by the name as written.
    Named(String, Value),
}

/// Reads an ARG: `name=JSON` when the text before `=` could be a
/// parameter's name, otherwise the whole text as JSON.
pub(crate) fn argument(text: &str) -> Result<Argument, String> {
    let keyword = text.split_once('=').filter(|(name, _)| {
        name.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    let json = keyword.map_or(text, |(_, json)| json);
    let value: Value = serde_json::from_str(json).map_err(|e| {
        format!("`{json}` is not valid JSON: {e}; write strings in quotes, like '\"text\"'")
    })?;
    Ok(match keyword {
        Some((name, _)) => Argument::Named(name.to_owned(), value),
        None => Argument::Positional(value),
    })
}

/// `--dir HOST[:GUEST][:ro]`: the guest path defaults to the host's.
/// Nothing else is taken: a typo such as `h:RO` (a guest folder named
/// `RO`, read-write) or `h::/g` is refused, not guessed at.
pub(crate) fn dir_grant(spec: &str) -> Result<DirGrant, String> {
    let (rest, read_only) = match spec.strip_suffix(":ro") {
        Some(rest) => (rest, true),
        None => (spec, false),
    };
    let (host, guest) = rest.split_once(':').unwrap_or((rest, rest));
    if host.is_empty() || guest.is_empty() || guest.contains(':') {
        return Err("must be HOST[:GUEST][:ro]".to_owned());
    }
    if guest.eq_ignore_ascii_case("ro") || guest.eq_ignore_ascii_case("rw") {
        return Err(format!(
            "`{guest}` would be a guest folder named `{guest}`: write HOST:ro for read-only, \
             or HOST:GUEST with GUEST a path"
        ));
    }
    Ok(DirGrant {
        host: PathBuf::from(host),
        guest: guest.to_owned(),
        read_only,
    })
}

/// `--env NAME[=VALUE]`: without a value, the host's own (or empty).
pub(crate) fn env_var(spec: &str) -> Result<(String, String), String> {
    let (name, value) = match spec.split_once('=') {
        Some((name, value)) => (name.to_owned(), value.to_owned()),
        None => (spec.to_owned(), std::env::var(spec).unwrap_or_default()),
    };
    if name.is_empty() {
        return Err("must be NAME[=VALUE]".to_owned());
    }
    Ok((name, value))
}

/// `--bind NAME=URL`.
pub(crate) fn binding(spec: &str) -> Result<(String, String), String> {
    match spec.split_once('=') {
        Some((name, url)) if !name.is_empty() && !url.is_empty() => {
            Ok((name.to_owned(), url.to_owned()))
        }
        _ => Err(
            "write NAME=URL, for example directory.find_person=http://127.0.0.1:9000/person"
                .to_owned(),
        ),
    }
}

/// `--bind-header NAME=HEADER: VALUE`: the bound function or module, the
/// header's name, and its value as written (not yet expanded).
pub(crate) fn bind_header(spec: &str) -> Result<(String, String, String), String> {
    let usage = "write NAME=HEADER: VALUE, for example 'directory=Authorization: Bearer ${TOKEN}'";
    let Some((target, header)) = spec.split_once('=') else {
        return Err(usage.to_owned());
    };
    let Some((name, value)) = header.split_once(':') else {
        return Err(usage.to_owned());
    };
    let (target, name, value) = (target.trim(), name.trim(), value.trim());
    if target.is_empty() || name.is_empty() {
        return Err(usage.to_owned());
    }
    Ok((target.to_owned(), name.to_owned(), value.to_owned()))
}

/// A `--bind-header` value with `${VAR}` read from the environment and
/// `${file:PATH}` from a file (less its trailing newline).
pub(crate) fn expand_secret(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            return Err(format!("`${{` without its `}}` in `{value}`"));
        };
        let reference = &rest[start + 2..start + end];
        let found = match reference.strip_prefix("file:") {
            Some(path) => std::fs::read_to_string(path)
                .map(|text| text.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| format!("cannot read `{path}`: {e}"))?,
            None => std::env::var(reference)
                .map_err(|_| format!("the environment variable `{reference}` is not set"))?,
        };
        out.push_str(&found);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `--memory`: a size CPython can start in.
pub(crate) fn memory(text: &str) -> Result<u64, String> {
    let bytes = size(text)?;
    if bytes < Policy::MIN_MEMORY {
        return Err("too small: CPython needs at least 16MiB".to_owned());
    }
    Ok(bytes)
}

/// Splits `256MiB` or `500ms` into its number and its unit.
fn split_quantity<'a>(text: &'a str, what: &str) -> Result<(f64, &'a str), String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = number
        .parse()
        .map_err(|_| format!("`{text}` is not a {what}"))?;
    Ok((number, unit.trim()))
}

/// A size in bytes: `512`, `64KiB`, `256MiB`, `1GB`.
pub(crate) fn size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = split_quantity(text, "size")?;
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit `{other}`; use B, KiB, MiB or GiB"
            ));
        }
    };
    let bytes = number * scale;
    if bytes >= u64::MAX as f64 {
        return Err("too large a size".to_owned());
    }
    Ok(bytes as u64)
}

/// A duration: `500ms`, `5s` (or `5`), `2m`.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = split_quantity(text, "duration")?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" | "" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        "d" => number * 86400.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}`; use ms, s, m, h or d"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| "too long a duration".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        assert_eq!(size("512"), Ok(512));
        assert_eq!(size("64KiB"), Ok(64 << 10));
        assert_eq!(size("256MiB"), Ok(256 << 20));
        assert_eq!(size("1GB"), Ok(1_000_000_000));
        assert_eq!(size(" 1.5 KiB "), Ok(1536));
        assert!(
            size("5 parsecs")
                .expect_err("refused")
                .contains("unknown size unit `parsecs`")
        );
        assert!(
            size("MiB")
                .expect_err("refused")
                .contains("`MiB` is not a size")
        );
        assert!(memory("1KiB").expect_err("refused").contains("too small"));
        assert_eq!(memory("16MiB"), Ok(16 << 20));
    }

    #[test]
    fn durations_take_ms_s_and_minutes() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("30d"), Ok(Duration::from_secs(30 * 86400)));
        assert_eq!(duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(
            duration("5x")
                .expect_err("refused")
                .contains("unknown duration unit")
        );
        assert!(
            duration("99999999999999999999999s")
                .expect_err("refused")
                .contains("too long")
        );
    }

    #[test]
    fn grants_and_bindings_read_their_forms() {
        let grant = dir_grant("data:/srv:ro").expect("a grant");
        assert_eq!(
            (grant.host, grant.guest.as_str(), grant.read_only),
            (PathBuf::from("data"), "/srv", true)
        );
        assert_eq!(dir_grant("data").expect("a grant").guest, "data");
        assert!(dir_grant(":ro").is_err());
        // Typos are refused, not taken as guest folders.
        for typo in ["h:RO", "h:rw", "h::/g", "h:/g:RO", "h:/g:x:ro"] {
            assert!(dir_grant(typo).is_err(), "{typo}");
        }
        assert!(dir_grant("h:/g:ro").expect("a grant").read_only);
        assert_eq!(env_var("A=b=c"), Ok(("A".to_owned(), "b=c".to_owned())));
        assert!(env_var("=x").is_err());
        assert_eq!(
            binding("m.f=http://h/p"),
            Ok(("m.f".to_owned(), "http://h/p".to_owned()))
        );
        assert!(binding("m.f").is_err());
    }

    #[test]
    fn arguments_are_json_or_keywords() {
        assert_eq!(argument("-1"), Ok(Argument::Positional((-1).into())));
        assert_eq!(
            argument("page-url=\"x\""),
            Ok(Argument::Named("page-url".to_owned(), "x".into()))
        );
        // `=` inside a JSON string is no keyword.
        assert_eq!(argument("\"a=b\""), Ok(Argument::Positional("a=b".into())));
        assert!(
            argument("x")
                .expect_err("refused")
                .contains("is not valid JSON")
        );
    }
}
