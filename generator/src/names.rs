//! Python names to WIT names and back to the names componentize-py binds.

/// Keywords of the WIT language; a name equal to one is written `%name`.
const WIT_KEYWORDS: &[&str] = &[
    "as",
    "async",
    "bool",
    "borrow",
    "char",
    "constructor",
    "enum",
    "export",
    "f32",
    "f64",
    "flags",
    "from",
    "float32",
    "float64",
    "func",
    "future",
    "import",
    "include",
    "interface",
    "list",
    "map",
    "option",
    "own",
    "package",
    "record",
    "resource",
    "result",
    "s16",
    "s32",
    "s64",
    "s8",
    "static",
    "stream",
    "string",
    "tuple",
    "type",
    "u16",
    "u32",
    "u64",
    "u8",
    "use",
    "variant",
    "with",
    "world",
    "error-context",
];

/// Python keywords, which componentize-py suffixes with `_` when binding.
const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Converts a Python identifier to a WIT kebab-case label.
///
/// `slow_answer` becomes `slow-answer`, `fetchURL2` becomes `fetch-url2`.
/// Returns `None` when no valid label can be made (non-ASCII, or no letter
/// to start with).
pub fn kebab(name: &str) -> Option<String> {
    if !name.is_ascii() {
        return None;
    }
    let mut words: Vec<String> = Vec::new();
    for part in name.split('_').filter(|part| !part.is_empty()) {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = c.is_ascii_uppercase()
                && prev.is_some_and(|p| {
                    p.is_ascii_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
                });
            if boundary && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            word.push(c.to_ascii_lowercase());
        }
        words.push(word);
    }
    // A WIT word must start with a letter: glue digit-led words to the last one.
    let mut labels: Vec<String> = Vec::new();
    for word in words {
        match labels.last_mut() {
            Some(last) if word.starts_with(|c: char| c.is_ascii_digit()) => last.push_str(&word),
            _ if word.starts_with(|c: char| c.is_ascii_digit()) => return None,
            _ => labels.push(word),
        }
    }
    if labels.is_empty() {
        None
    } else {
        Some(labels.join("-"))
    }
}

/// `true` when `label` is a valid lowercase WIT label (`word-word2`).
pub fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.split('-').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// A WIT label as it must be written in WIT source, escaped when needed.
pub fn wit_ident(label: &str) -> String {
    if WIT_KEYWORDS.contains(&label) {
        format!("%{label}")
    } else {
        label.to_owned()
    }
}

/// The snake_case name componentize-py gives a WIT function in Python.
pub fn binding_name(label: &str) -> String {
    let snake = label.replace('-', "_");
    if PYTHON_KEYWORDS.contains(&snake.as_str()) {
        format!("{snake}_")
    } else {
        snake
    }
}

/// What callers name an export by: its Python name, or `module.name`
/// (`animals.feed`) when the component exports several interfaces, as a
/// package does. `interface` is the interface's bare WIT name.
pub fn call_name(interface: &str, python_name: &str, several: bool) -> String {
    match several {
        true => format!("{}.{python_name}", binding_name(interface)),
        false => python_name.to_owned(),
    }
}

/// The PascalCase class name componentize-py expects for an exported interface.
pub fn class_name(label: &str) -> String {
    label
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The PascalCase class name componentize-py gives a WIT type (or a
/// variant case), `_`-suffixed when it is a Python keyword (`None_`).
pub fn python_class_name(label: &str) -> String {
    let class = class_name(label);
    if PYTHON_KEYWORDS.contains(&class.as_str()) {
        format!("{class}_")
    } else {
        class
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_cases() {
        assert_eq!(kebab("slow_answer").as_deref(), Some("slow-answer"));
        assert_eq!(kebab("fetchURLNow").as_deref(), Some("fetch-url-now"));
        assert_eq!(kebab("sha_256").as_deref(), Some("sha256"));
        assert_eq!(kebab("a__b_").as_deref(), Some("a-b"));
        assert_eq!(kebab("x2y").as_deref(), Some("x2y"));
        assert_eq!(kebab("Add").as_deref(), Some("add"));
        assert_eq!(kebab("héllo"), None);
        assert_eq!(kebab("_"), None);
    }

    #[test]
    fn escapes_and_bindings() {
        assert_eq!(wit_ident("list"), "%list");
        assert_eq!(wit_ident("add"), "add");
        assert_eq!(binding_name("async-function"), "async_function");
        assert_eq!(binding_name("from"), "from_");
        assert_eq!(class_name("async-demo"), "AsyncDemo");
        assert_eq!(wit_ident("from"), "%from");
        assert_eq!(wit_ident("map"), "%map");
        assert_eq!(python_class_name("int-or-str"), "IntOrStr");
        assert_eq!(python_class_name("none"), "None_");
    }

    #[test]
    fn labels() {
        assert!(is_label("read-write2"));
        assert!(!is_label("a b"));
        assert!(!is_label("2a"));
        assert!(!is_label("a--b"));
        assert!(!is_label(""));
        assert!(!is_label("Upper"));
    }
}
